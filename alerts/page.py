"""The timeline page at /: server-rendered with Jinja2, no front-end build step."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["page"])
