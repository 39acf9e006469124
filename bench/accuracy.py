"""How well the extractor reads labelled notices: per field, and per platform.

Run as ``.venv/bin/python bench/accuracy.py [CASES]`` (default: the dev set,
``../shared/dev/notices_dev.jsonl``; ``$RULEWATCH_SHARED`` moves ``../shared``). Changes are
paired with the labels exactly as ``../shared/tools/score_extract.py`` pairs them, so the
totals agree with its figures; this adds the split by platform and the time per notice.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.extract import extract
from alerts.extract.readers import read_notices

FIELDS = ("effective_on", "announced_on", "platform", "tentative")


def _shared() -> Path:
    shared = os.environ.get("RULEWATCH_SHARED")
    return Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"


def _scorer() -> Any:
    spec = importlib.util.spec_from_file_location("score", _shared() / "tools" / "score_extract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    cases_path = Path(sys.argv[1]) if len(sys.argv) > 1 else _shared() / "dev" / "notices_dev.jsonl"
    score = _scorer()
    cases = score.load(str(cases_path))
    good: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    total: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    for case in cases:
        line = {
            "id": str(case["id"]),
            "published_at": case.get("published_at"),
            "title": case.get("title") or "",
            "text": case.get("text") or case.get("summary") or "",
        }
        [notice] = read_notices(json.dumps(line, ensure_ascii=False), format="jsonl")
        found = [change.as_json() for change in extract(notice)]
        used: set[int] = set()
        for expected in case["expected"]:
            index = score.pick(expected, found, used)
            got = found[index] if index is not None else {}
            if index is not None:
                used.add(index)
            platform = expected.get("platform") or "?"
            total[platform] += 1
            row = good[platform]
            row["effective_on"] += got.get("effective_on") == expected.get("effective_on")
            row["announced_on"] += got.get("announced_on") == expected.get("announced_on")
            row["platform"] += score.norm_platform(got.get("platform")) == score.norm_platform(
                expected.get("platform")
            )
            row["tentative"] += bool(got.get("tentative")) == bool(expected.get("tentative"))
    elapsed = time.perf_counter() - started
    print(f"{cases_path.name}: {len(cases)} notices, {elapsed / len(cases) * 1e6:.0f} µs a notice")
    print(f"{'platform':<16}{'changes':>8}" + "".join(f"{f:>14}" for f in FIELDS))
    for platform in sorted(total, key=lambda p: -total[p]):
        cells = "".join(f"{good[platform][f] / total[platform]:>14.0%}" for f in FIELDS)
        print(f"{platform:<16}{total[platform]:>8}{cells}")
    n = sum(total.values())
    cells = "".join(f"{sum(g[f] for g in good.values()) / n:>14.1%}" for f in FIELDS)
    print(f"{'all':<16}{n:>8}{cells}")


if __name__ == "__main__":
    main()
