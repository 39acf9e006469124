"""The calendar feed over HTTP: GET /calendar.ics (filters, token, ETag/304)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["calendar"])
