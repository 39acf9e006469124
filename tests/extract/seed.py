"""Where the shared seed data lives for the extractor tests: beside the repo, as in CI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RULEWATCH_SHARED", ROOT.parent / "shared"))
SEED_ITEMS = SHARED / "dev" / "seed_items.json"
SEED_LISTINGS = sorted((SHARED / "seeds").glob("*.txt"))


def seed_items() -> list[dict[str, Any]]:
    """The labelled items; a missing file fails the collection loudly rather than skipping."""
    items: list[dict[str, Any]] = json.loads(SEED_ITEMS.read_text(encoding="utf-8"))
    return items
