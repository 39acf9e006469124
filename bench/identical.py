"""Whether the extractor's output is byte-identical to a reference: run before a change that
must not change what is extracted, and again after it.

    .venv/bin/python bench/identical.py --write /tmp/before.txt    # before the change
    .venv/bin/python bench/identical.py --check /tmp/before.txt    # after it: exit 1 on a diff

It writes, for every notice of a fixed corpus, ``repr()`` of ``extract(notice)`` and of
``unplaced_days(notice)``, one block a notice, so that a difference names the notice. The
corpus:

- the dev notices and the seed items of ``../shared/dev`` (``$RULEWATCH_SHARED`` as in
  ``bench/extract.py``), and the four ``tests/extract/notices_written*.jsonl`` files;
- ``--spliced`` notices (6,000) spliced at random (fixed seed) from the sentences and titles
  of all those texts: random titles (or none), published_at null, a date or a datetime;
  some sentences made traditional with OpenCC s2t, some upper-, lower- or swap-cased, some
  with İ, ſ, K (the Kelvin sign), ı or ß put in; joined by 。, a line break, a space or
  nothing;
- ``--english`` more (3,000) weighted to the English sentences, with case and spacing
  variants;
- the 8,000-rule notice of ``bench/extract.py``, and a 1 MB article of its generator read
  with ``read_notices(format="article")``.

The corpus depends only on the files and the seed, so a reference written on one commit
compares with a run on another.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import opencc
from extract import _shared, article_text, many_rules_notice

from alerts.extract import Notice, extract, read_notices, unplaced_days

_TESTS = Path(__file__).resolve().parents[1] / "tests" / "extract"
_ODD_LETTERS = ["İ", "ſ", "\u212a", "ı", "ß"]
_SENTENCE = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s+")


def _files() -> list[tuple[str, Notice]]:
    shared = _shared() / "dev"
    named: list[tuple[str, Notice]] = []
    dev = read_notices((shared / "notices_dev.jsonl").read_text(encoding="utf-8"), format="jsonl")
    named += [(f"dev {n.id or i}", n) for i, n in enumerate(dev)]
    for item in json.loads((shared / "seed_items.json").read_text(encoding="utf-8")):
        published = datetime.fromisoformat(item["published_at"]) if item["published_at"] else None
        named.append((f"seed {item['id']}", Notice(item["title"], item["text"], published)))
    for path in sorted(_TESTS.glob("notices_written*.jsonl")):
        written = read_notices(path.read_text(encoding="utf-8"), format="jsonl")
        named += [(f"{path.stem} {n.id or i}", n) for i, n in enumerate(written)]
    return named


def _variant(sentence: str, rng: random.Random, s2t: opencc.OpenCC) -> str:
    roll = rng.random()
    if roll < 0.06:
        sentence = s2t.convert(sentence)
    elif roll < 0.09:
        sentence = sentence.upper()
    elif roll < 0.12:
        sentence = sentence.lower()
    elif roll < 0.14:
        sentence = sentence.swapcase()
    if rng.random() < 0.04:
        at = rng.randint(0, len(sentence))
        sentence = sentence[:at] + rng.choice(_ODD_LETTERS) + sentence[at:]
    if rng.random() < 0.03:
        sentence = sentence.replace(" ", rng.choice(["  ", "\t", "\n", ""]))
    return sentence


def _published(rng: random.Random) -> datetime | date | None:
    roll = rng.random()
    if roll < 0.4:
        return None
    day = date(2019, 1, 1).toordinal() + rng.randint(0, 2500)
    if roll < 0.7:
        return date.fromordinal(day)
    return datetime.combine(date.fromordinal(day), datetime.min.time()).replace(
        hour=rng.randint(0, 23), minute=rng.randint(0, 59)
    )


def _spliced(notices: list[Notice], count: int, seed: int, english: bool) -> list[Notice]:
    rng = random.Random(seed)
    s2t = opencc.OpenCC("s2t")
    sentences = sorted(
        {s for n in notices for s in _SENTENCE.split(n.text or "") if s.strip()}
        | {n.title for n in notices if n.title}
    )
    if english:
        latin = [s for s in sentences if sum(c.isascii() for c in s) > 0.7 * len(s)]
        sentences = latin * 3 + sentences
    titles = sorted({n.title for n in notices if n.title})
    out = []
    for _ in range(count):
        title = rng.choice(titles) if rng.random() < 0.7 else rng.choice(sentences)
        if rng.random() < 0.1:
            title = ""
        picked = [_variant(rng.choice(sentences), rng, s2t) for _ in range(rng.randint(1, 12))]
        joints = ["", "", "\n", "。", " ", "\n\n"]
        text = picked[0] + "".join(rng.choice(joints) + s for s in picked[1:])
        out.append(Notice(_variant(title, rng, s2t), text, _published(rng)))
    return out


def corpus(spliced: int, english: int) -> list[tuple[str, Notice]]:
    named = _files()
    notices = [n for _, n in named]
    named += [(f"spliced {i}", n) for i, n in enumerate(_spliced(notices, spliced, 6, False))]
    named += [(f"english {i}", n) for i, n in enumerate(_spliced(notices, english, 66, True))]
    named.append(("8,000 rules", many_rules_notice()))
    (article,) = read_notices(
        article_text(1.0), format="article", published_at=datetime(2024, 1, 15)
    )
    named.append(("1 MB article", article))
    return named


def outputs(named: list[tuple[str, Notice]]) -> list[str]:
    return [
        f"## {name}\n{extract(notice)!r}\n{unplaced_days(notice)!r}\n" for name, notice in named
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", type=Path, help="write the reference here")
    action.add_argument("--check", type=Path, help="compare with this reference")
    parser.add_argument("--spliced", type=int, default=6000)
    parser.add_argument("--english", type=int, default=3000)
    args = parser.parse_args()
    blocks = outputs(corpus(args.spliced, args.english))
    digest = hashlib.sha256("".join(blocks).encode()).hexdigest()
    if args.write:
        args.write.write_text("".join(blocks), encoding="utf-8")
        print(f"{len(blocks)} notices written to {args.write}, sha256 {digest}")
        return
    reference = re.split(r"(?m)^(?=## )", args.check.read_text(encoding="utf-8"))
    reference = [block for block in reference if block]
    differ = [b for a, b in zip(reference, blocks, strict=False) if a != b]
    if len(reference) != len(blocks):
        print(f"{len(blocks)} notices, the reference has {len(reference)}")
    for block in differ[:5]:
        print(f"differs: {block.splitlines()[0]}")
    print(f"{len(blocks)} notices, {len(differ)} differ, sha256 {digest}")
    sys.exit(1 if differ or len(reference) != len(blocks) else 0)


if __name__ == "__main__":
    main()
