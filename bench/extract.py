"""How fast the extractor reads the seed: items per second and microseconds per item.

Run as ``.venv/bin/python bench/extract.py``. Reads the labelled seed items from
``../shared/dev/seed_items.json`` (or ``$RULEWATCH_SHARED/dev/seed_items.json``) and extracts
every item many times in one process, after a warm-up round, so the figure is the steady cost
of ``extract()`` on one notice (normalization, dates, rules) without start-up.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.extract import Notice, extract

REPEAT = 500


def _seed_path() -> Path:
    shared = os.environ.get("RULEWATCH_SHARED")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return root / "dev" / "seed_items.json"


def main() -> None:
    items = json.loads(_seed_path().read_text(encoding="utf-8"))
    notices = [
        Notice(item["title"], item["text"], datetime.fromisoformat(item["published_at"]))
        for item in items
    ]
    for notice in notices:  # warm-up: the OpenCC dictionaries load on first use
        extract(notice)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(REPEAT):
            for notice in notices:
                extract(notice)
        best = min(best, time.perf_counter() - start)
    count = REPEAT * len(notices)
    print(f"{count} extractions of {len(notices)} seed items, best of 5 rounds")
    print(f"{count / best:,.0f} items/s, {best / count * 1e6:.1f} µs per item")
    print(f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {platform.machine()}")


if __name__ == "__main__":
    main()
