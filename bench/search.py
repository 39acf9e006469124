"""How fast a search of the timeline answers, on 10,000 changes, on SQLite and PostgreSQL.

Run as ``.venv/bin/python bench/search.py`` (``--changes N``, ``--rounds R`` per query,
``--postgres URL`` of a server to make a throwaway database on, ``--no-postgres``). For
each store it fills a fresh database with N changes made here (rule names, titles and
notice texts drawn from platforms, topics and sentence shapes; one in eight in English),
each with its search document as the write path keeps it, then times for each query:

- the count: ``count_selected`` with ``search``, the search itself (median and p95 of
  ``--rounds``);
- 100 rows: ``select_changes`` with ``limit=100`` and the count, what GET /api/changes runs;
- the page: GET /?q=… through the app in process (median and p95 of a few rounds), which
  also renders every change found.

The queries are two-character Chinese (发货: a topic; 罚款: in most texts; 跨境: one change in
a hundred), three and four characters (保证金, 知识产权), Latin (seller, "FBA fee"), two
characters with a platform filter, and Chinese with Latin. It prints the matches of each, so
that a figure is read with what it found.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import postgres_database

from alerts.config import Settings, load_settings
from alerts.timeline import search
from alerts.timeline.views import count_selected, select_changes
from store import queries
from store.db import connect, session_scope, upgrade

PLATFORMS = ["淘宝", "天猫", "京东", "拼多多", "抖音电商", "快手", "小红书", "1688"]
TOPICS = [
    "发货",
    "保证金",
    "退款",
    "售后服务",
    "营销活动",
    "商品信息发布",
    "评价",
    "直播带货",
    "物流配送",
    "价格行为",
    "虚假交易",
    "知识产权",
    "消费者权益",
    "店铺命名",
]
SUFFIXES = ["管理规范", "规则", "实施细则", "服务标准", "管理办法"]
SENTENCES = [
    "为进一步规范{topic}行为，保障消费者合法权益，平台拟对《{rule}》进行修订。",
    "本次修订于{announced}公示，修订后的规则将于{effective}起正式生效。",
    "商家应在承诺时间内完成{topic}相关义务，未按约定履行的，平台将根据情节采取相应措施。",
    "修订要点包括：明确{topic}的适用范围，细化违规情形的认定标准，调整处理措施。",
    "对于情节严重的违规行为，平台有权扣除保证金、限制店铺经营并处以罚款。",
    "如对本次变更有任何意见或建议，请于公示期内通过商家后台反馈。",
    "平台将持续优化营商环境，与广大商家共同维护良好的经营秩序。",
    "新规实施后，相关订单将按照新的标准进行考核，请商家提前做好准备。",
]
# One notice in a hundred says this, so that a rare two-character term (跨境) is measured too.
RARE = "跨境商品另行适用《跨境经营规范》，请相关商家留意。"
ENGLISH = [
    "Starting {effective}, sellers on {platform} must follow the updated {rule} policy.",
    "The FBA fee for standard-size items will change, and referral fees are adjusted.",
    "Sellers who fail to meet the shipping requirements may have their listings removed.",
    "This policy was announced on {announced} and applies to all marketplaces.",
]
QUERIES = [
    ("2 characters, common", "发货", None),
    ("2 characters, in most texts", "罚款", None),
    ("2 characters, rare", "跨境", None),
    ("2 characters + platform", "发货", "京东"),
    ("3 characters", "保证金", None),
    ("4 characters", "知识产权", None),
    ("Latin word", "seller", None),
    ("two Latin words", "FBA fee", None),
    ("Chinese + Latin", "发货 seller", None),
]
CONFIG = '[service]\ndatabase = "{database}"\n'


def fill(settings: Settings, count: int, rng: random.Random) -> None:
    """N changes with their notices and search documents, committed in batches."""
    engine = connect(settings.service.database)
    upgrade(engine)
    start = datetime(2024, 1, 1, 9, tzinfo=UTC)
    done = 0
    while done < count:
        with session_scope(engine) as session:
            for i in range(done, min(count, done + 1000)):
                _one(session, i, start + timedelta(hours=i), rng)
        done += 1000
    engine.dispose()


def _one(session: object, i: int, published: datetime, rng: random.Random) -> None:
    platform_name = PLATFORMS[i % len(PLATFORMS)]
    topic = rng.choice(TOPICS)
    english = i % 8 == 7
    if english:
        platform_name = rng.choice(["Amazon", "Shopee", "Lazada"])
        subject = rng.choice(["Shipping", "Fee", "Listing", "Return"])
        name = f"{platform_name} {subject} Policy {i // 3}"
    else:
        name = f"{platform_name}{topic}{rng.choice(SUFFIXES)}（第{i // 3}版）"
    announced = published.date()
    effective = announced + timedelta(days=7 + i % 30)
    values = {
        "rule": name,
        "topic": topic,
        "platform": platform_name,
        "announced": _day(announced, english),
        "effective": _day(effective, english),
    }
    shapes = ENGLISH if english else SENTENCES
    text = "".join(
        shape.format(**values) + (" " if english else "")
        for shape in [shapes[0], *rng.sample(shapes[1:], k=min(len(shapes) - 1, 5))]
    )
    if not english and i % 100 == 50:
        text += RARE
    title = f"关于《{name}》变更的公告" if not english else f"Update to the {name}"
    rule = queries.get_or_add_rule(session, key=name, name=name, platform=platform_name)  # type: ignore[arg-type]
    notice = queries.add_notice(
        session,  # type: ignore[arg-type]
        content_hash=uuid.UUID(int=rng.getrandbits(128)).hex,
        title=title,
        text=text * rng.randint(1, 3),
        published_at=published,
        url=f"https://rules.example.com/notice/{i}",
        origin="bench",
    )
    fields = queries.ChangeFields(
        uid=f"bench{i:08d}",
        kind="amendment",
        announced_on=announced,
        effective_on=effective,
        effective_at=None,
        tentative=False,
        revision=0,
        postponed_from=None,
        dated_by=published,
    )
    change = queries.save_change(
        session,  # type: ignore[arg-type]
        rule=rule,
        fields=fields,
        title=title,
        summary=notice.text[:2000],
        notice=notice,
    )
    queries.save_search_document(
        session,  # type: ignore[arg-type]
        change=change,
        document=search.document(rule, change, [notice]),
    )


def _day(day: date, english: bool) -> str:
    return day.strftime("%B %d, %Y") if english else f"{day.year}年{day.month}月{day.day}日"


def timed(run: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median and p95 of ``rounds`` runs, in milliseconds, after one warm-up run."""
    run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def bench(settings: Settings, rounds: int, page_rounds: int) -> None:
    from fastapi.testclient import TestClient

    from alerts.web.app import create_app

    engine = connect(settings.service.database)
    client = TestClient(create_app(settings, engine))
    print(f"  {'query':<34} {'found':>6}  {'count ms':>15}  {'100 rows ms':>15}  {'page ms':>15}")
    print(f"  {'':<34} {'':>6}  {'median / p95':>15}  {'median / p95':>15}  {'median / p95':>15}")
    for label, query, platform_name in QUERIES:
        with session_scope(engine) as session:
            count = partial(count_selected, session, search=query, platform=platform_name)
            rows = partial(select_changes, session, search=query, platform=platform_name, limit=100)
            found = count()
            counted = timed(count, rounds)
            listed = timed(lambda rows=rows, count=count: (rows(), count()), rounds)
        params = {"q": query} | ({"platform": platform_name} if platform_name else {})
        shown = timed(partial(_page, client, params), page_rounds)
        name = f"{label} ({query}{', ' + platform_name if platform_name else ''})"
        print(f"  {_pad(name, 34)} {found:>6,}  {_ms(counted)}  {_ms(listed)}  {_ms(shown, 0)}")
    engine.dispose()


def _page(client: Any, params: dict[str, str]) -> None:
    response = client.get("/", params=params)
    if response.status_code != 200:
        raise SystemExit(f"GET / {params}: {response.status_code}")


def _ms(figures: tuple[float, float], digits: int = 1) -> str:
    return f"{figures[0]:>7.{digits}f} / {figures[1]:>5.{digits}f}"


def _pad(text: str, width: int) -> str:
    # A Chinese character takes two columns of a terminal.
    wide = sum(1 for char in text if ord(char) > 0x2E80)
    return text + " " * max(0, width - len(text) - wide)


def run_store(url: str, folder: Path, args: argparse.Namespace, label: str) -> None:
    config = folder / f"{label}.toml"
    config.write_text(CONFIG.format(database=url), encoding="utf-8")
    settings = load_settings(config)
    started = time.perf_counter()
    fill(settings, args.changes, random.Random(13))
    print(f"{label}: stored {args.changes:,} changes in {time.perf_counter() - started:.1f} s")
    if url.startswith("postgresql"):
        engine = connect(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")  # as autovacuum would after a bulk load
        engine.dispose()
    load = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
    print(f"{label}: load average before the timing {load} (other jobs share the machine)")
    bench(settings, args.rounds, args.page_rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--page-rounds", type=int, default=5)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        run_store(f"sqlite:///{folder / 'bench.db'}", folder, args, "SQLite")
        if not args.no_postgres:
            with postgres_database(args.postgres, "search") as url:
                run_store(url, folder, args, "PostgreSQL")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {platform.machine()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}"
    )


if __name__ == "__main__":
    main()
