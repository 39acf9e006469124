"""How fast the extractor reads a notice, short and long.

Run as ``.venv/bin/python bench/extract.py`` (``--timeout S`` for each long text, 180 s;
``--article-mb N``, 20; ``--tracemalloc`` to run the long texts under tracemalloc). Prints:

- per item on the labelled seed items (``../shared/dev/seed_items.json``, or under
  ``$RULEWATCH_SHARED``): every item extracted many times in one process, after a warm-up
  round, so the figure is the steady cost of ``extract()`` on one notice without start-up;
- per notice on the dev notices (``dev/notices_dev.jsonl`` beside the seed), the same way;
- one generated notice whose text names 8,000 distinct rules (about 840 KB of UTF-8);
- one generated article of about 20 MB of mixed Chinese and English text, read with
  ``read_notices(format="article")`` and extracted.

Each long text is extracted once, in a child process of its own, so that its peak RSS is its
own (and optionally its tracemalloc peak); the child is killed after ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.extract import Notice, extract, read_notices

REPEAT = 500
DEV_REPEAT = 50
MANY_RULES = 8_000
PUBLISHED = datetime(2024, 1, 15, 10, 0)


def _shared() -> Path:
    shared = os.environ.get("RULEWATCH_SHARED")
    return Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"


def _seed_path() -> Path:
    return _shared() / "dev" / "seed_items.json"


def _per_notice(notices: list[Notice], repeat: int) -> float:
    """Best of 5 rounds, in seconds per notice."""
    for notice in notices:  # warm-up: the OpenCC dictionaries load on first use
        extract(notice)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            for notice in notices:
                extract(notice)
        best = min(best, time.perf_counter() - start)
    return best / (repeat * len(notices))


def _day(rng: random.Random) -> date:
    return date(2024, 1, 1) + timedelta(days=rng.randint(0, 900))


def _cn(day: date, year: bool = True) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if year else f"{day.month}月{day.day}日"


def many_rules_notice(count: int = MANY_RULES) -> Notice:
    """One notice naming ``count`` distinct rules, one sentence each, with dates and verbs."""
    rng = random.Random(8000)
    shapes = [
        "《商家规则第{n}号》将于{d}起正式生效，请商家提前做好准备，详见公告。",
        "平台修订了《店铺经营管理规范第{n}号》，修订后于{d}生效，详见公告。",
        "经公示，《商品发布细则第{n}号》自{d}起施行，请商家知悉，详见公告。",
        "《营销活动管理办法第{n}号》修订版公示期为{d}至{e}。",
        "淘宝新增《淘宝消费者保障规则第{n}号》，于{d}起执行。",
    ]
    lines = []
    for n in rng.sample(range(1, 10 * count), count):
        day = _day(rng)
        end = _cn(day + timedelta(days=7), year=False)
        lines.append(rng.choice(shapes).format(n=n, d=_cn(day), e=end))
    return Notice("规则中心：本期规则变更汇总", "\n".join(lines), PUBLISHED)


_PLATFORMS = ["淘宝", "天猫", "京东", "拼多多", "抖店", "快手", "小红书", "1688", "速卖通", ""]
_TOPICS = ["商品发布", "店铺评分", "售后服务", "营销活动", "直播带货", "物流时效", "违规处理"]
_SUFFIXES = ["规范", "规则", "管理办法", "实施细则", "标准"]


def _sentence(rng: random.Random) -> str:
    name = (
        f"{rng.choice(_PLATFORMS)}{rng.choice(_TOPICS)}{rng.choice(_SUFFIXES)}"
        f"（第{rng.randint(1, 400)}版）"
    )
    other = f"{rng.choice(_TOPICS)}{rng.choice(_SUFFIXES)}"
    d, e = _cn(_day(rng)), _cn(_day(rng), year=False)
    shapes = [
        f"为提升消费者体验，平台对《{name}》进行了修订，将于{d}正式生效。",
        f"《{name}》于{e}公示，公示期7天，公示期满后生效。",
        f"此次变更与《{other}》保持一致，商家无需额外操作。",
        f"《{name}》和《{other}》分别于{d}和{e}生效。",
        f"原定于{e}生效的《{name}》延期至{d}生效。",
        f"本次规则调整涉及商品发布、店铺评分等多项内容，请商家于{d}前完成自查。",
        "特此通知，敬请知悉，感谢您对平台的支持与关注！",
        f"The updated Seller Rules will take effect on March {rng.randint(1, 28)}, 2024.",
        f"Sellers should review the Return Policy before {rng.randint(1, 28)} January 2025.",
        "商家可在规则中心查看具体条款，如有疑问请联系在线客服。",
        f"自{d}起，{rng.choice(_PLATFORMS)}将下线旧版《{name}》。",
    ]
    return rng.choice(shapes)


def article_text(megabytes: float) -> str:
    """About ``megabytes`` MB (UTF-8) of mixed text: paragraphs of varied sentences."""
    rng = random.Random(20)
    target = int(megabytes * 1_000_000)
    paragraphs: list[str] = ["规则中心：关于近期平台规则调整的汇总公告"]
    size = len(paragraphs[0].encode())
    while size < target:
        paragraph = "".join(_sentence(rng) for _ in range(rng.randint(2, 6)))
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 1
    return "\n".join(paragraphs)


def _child(case: str, megabytes: float, trace: bool) -> None:
    """Run in a child process: build the text, extract it once, print the figures as JSON."""
    extract(Notice("暖机", "《暖机规则》于2024年1月1日生效。", PUBLISHED))  # load OpenCC
    if case == "many":
        notice = many_rules_notice()
        text = notice.text
    else:
        text = article_text(megabytes)
    if trace:
        import tracemalloc

        tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if case != "many":
        (notice,) = read_notices(text, format="article", published_at=PUBLISHED)
    changes = extract(notice)
    seconds = time.perf_counter() - start
    figures = {
        "seconds": seconds,
        "bytes": len(text.encode()),
        "chars": len(text),
        "changes": len(changes),
        "keys": len({change.rule_key for change in changes}),
        "rss_before_kb": before,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    if trace:
        figures["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(figures))


def _in_child(case: str, megabytes: float, timeout: float, trace: bool) -> str:
    command = [sys.executable, __file__, "--child", case, "--article-mb", str(megabytes)]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command + (["--tracemalloc"] if trace else []),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return f"killed after {time.perf_counter() - start:.0f} s (--timeout)"
    f = json.loads(done.stdout)
    size = f"{f['bytes'] / 1e6:.2f} MB" if f["bytes"] < 1e6 else f"{f['bytes'] / 1e6:.1f} MB"
    line = (
        f"{size} ({f['chars']:,} characters), {f['changes']:,} changes "
        f"({f['keys']:,} distinct keys): {f['seconds']:.2f} s, "
        f"peak RSS {f['peak_rss_kb'] / 1024:.0f} MB ({f['rss_before_kb'] / 1024:.0f} MB before)"
    )
    if trace:
        line += f", tracemalloc peak {f['tracemalloc_peak'] / 1e6:.0f} MB"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--article-mb", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--child", choices=["many", "article"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.article_mb, args.tracemalloc)
        return

    items = json.loads(_seed_path().read_text(encoding="utf-8"))
    seed = [
        Notice(item["title"], item["text"], datetime.fromisoformat(item["published_at"]))
        for item in items
    ]
    per_item = _per_notice(seed, REPEAT)
    print(f"seed: {len(seed)} items x {REPEAT}, best of 5 rounds")
    print(f"  {1 / per_item:,.0f} items/s, {per_item * 1e6:.1f} µs per item")

    dev_path = _shared() / "dev" / "notices_dev.jsonl"
    dev = read_notices(dev_path.read_text(encoding="utf-8"), format="jsonl")
    per_notice = _per_notice(dev, DEV_REPEAT)
    print(f"dev: {len(dev)} notices x {DEV_REPEAT}, best of 5 rounds")
    print(f"  {1 / per_notice:,.0f} notices/s, {per_notice * 1e6:.1f} µs per notice")

    many = _in_child("many", args.article_mb, args.timeout, args.tracemalloc)
    print(f"{MANY_RULES:,} rules in one notice: {many}")
    article = _in_child("article", args.article_mb, args.timeout, args.tracemalloc)
    print(f"article: {article}")
    print(f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {platform.machine()}")
    print(f"run on {date.today().isoformat()}")


if __name__ == "__main__":
    main()
