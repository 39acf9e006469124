"""How fast `rulewatch import` stores a file of notices, on SQLite and PostgreSQL, against a
yardstick: a Core executemany of the rows the import wrote, in the same run.

Run as ``.venv/bin/python bench/import.py`` (``--notices N``, 10,000 by default;
``--postgres URL`` of a server to make throwaway databases on; ``--no-postgres``;
``--keep FILE`` to write the generated notices there). It writes N notices to a JSON-lines
file (see :func:`notices`): eight platforms, rules that come back, so that a later notice
of a rule merges into its change (the same dates again), moves it (a postponement, or new
dates for the same 公示) or adds another; one notice in ten repeated word for word (known:
nothing stored) and a few without a publish time. Then for each store:

- extraction: ``notices_in`` (the file read) and ``extract`` of every notice, no store:
  the part of the import no store work can speed up;
- import: ``import_files`` into a fresh database, as the command does (schema made first,
  not timed), then the same file again (every notice known, nothing stored);
- yardstick: every row the import wrote (rules, notices, changes, links, search documents)
  read back and inserted into another fresh database by Core ``executemany``, one
  transaction: the least any import of these rows costs on this store.

It prints notices/s and the import's time as a multiple of the yardstick's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import postgres_database

from alerts.extract import extract
from alerts.timeline.ingest import import_files, notices_in
from store.db import connect, upgrade

TZ = ZoneInfo("Asia/Shanghai")
PLATFORMS = ["淘宝", "天猫", "京东", "拼多多", "抖音电商", "快手", "小红书", "1688"]
TOPICS = ["发货", "保证金", "退款", "售后服务", "营销活动", "商品信息发布", "评价", "直播带货"]
SUFFIXES = ["管理规范", "规则", "实施细则", "服务标准", "管理办法"]
FILLER = [
    "为进一步规范{topic}行为，保障消费者合法权益，平台对本规则进行修订。",
    "商家应在承诺时间内完成{topic}相关义务，未按约定履行的，平台将根据情节采取相应措施。",
    "修订要点包括：明确{topic}的适用范围，细化违规情形的认定标准，调整处理措施。",
    "如对本次变更有任何意见或建议，请于公示期内通过商家后台反馈。",
    "新规实施后，相关订单将按照新的标准进行考核，请商家提前做好准备。",
]
# The tables an import writes, in the order their rows can be inserted.
TABLES = ["rule", "notice", "rule_change", "change_notice"]


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def notices(count: int, rng: random.Random) -> list[dict[str, object]]:
    """``count`` notices as JSON lines hold them, in the order a file lists them."""
    rules = [
        (p, f"{p}{topic}{suffix}") for p in PLATFORMS for topic in TOPICS for suffix in SUFFIXES
    ]  # 320 rules: at 10,000 notices each comes back some 30 times
    start = datetime(2025, 1, 6, 9, tzinfo=TZ)
    # The dates each rule's latest change was announced and takes effect on.
    latest: dict[str, tuple[date, date]] = {}
    made: list[dict[str, object]] = []
    while len(made) < count:
        i = len(made)
        if i % 10 == 9:  # a notice posted again, word for word
            made.append(dict(made[rng.randrange(len(made))]))
            continue
        platform_name, rule = rules[rng.randrange(len(rules))]
        topic = next(t for t in TOPICS if t in rule)
        published = start + timedelta(hours=3 * i, minutes=rng.randrange(60))
        shape = rng.random()
        if rule not in latest or shape < 0.45:
            announced = published.date()
            effective = announced + timedelta(days=7 + rng.randrange(30))
            body = f"《{rule}》于{_day(announced)}公示，{_day(effective)}起正式生效。"
            title = f"关于《{rule}》变更的公告"
            latest[rule] = (announced, effective)
        elif shape < 0.7:  # the same change again: merged
            announced, effective = latest[rule]
            body = f"《{rule}》已于{_day(announced)}公示，将于{_day(effective)}生效，请商家留意。"
            title = f"《{rule}》生效提醒"
        elif shape < 0.85:  # postponed: the change moves, its uid kept
            announced, old = latest[rule]
            effective = old + timedelta(days=7 + rng.randrange(20))
            body = f"《{rule}》原定于{_day(old)}生效，现延期至{_day(effective)}生效。"
            title = f"《{rule}》延期生效"
            latest[rule] = (announced, effective)
        else:  # new dates for the same 公示: moves too, when newer
            announced, old = latest[rule]
            effective = old + timedelta(days=3 + rng.randrange(10))
            body = f"《{rule}》于{_day(announced)}公示，调整为{_day(effective)}生效。"
            title = f"《{rule}》生效时间调整"
            latest[rule] = (announced, effective)
        filler = "".join(s.format(topic=topic) for s in rng.sample(FILLER, k=3))
        notice: dict[str, object] = {
            "title": title,
            "text": body + filler,
            "url": f"https://rules.example.com/{platform_name}/notice/{i}",
        }
        if i % 50 != 17:  # a few come without a publish time: ordered by when they arrive
            notice["published_at"] = published.isoformat()
        made.append(notice)
    return made


def extraction(path: Path) -> tuple[int, float, float]:
    """Notices in the file, seconds to read them, seconds to extract them all."""
    started = time.perf_counter()
    read = notices_in(path)
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    for notice in read:
        extract(notice)
    return len(read), parsed, time.perf_counter() - started


def timed_import(url: str, path: Path) -> tuple[float, float, dict[str, int]]:
    """Seconds for the import, seconds for the same import again, rows per table."""
    engine = connect(url)
    upgrade(engine)
    from sqlmodel import Session

    times = []
    for _ in range(2):
        with Session(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            import_files(session, [path], tz=TZ)
            session.commit()
            times.append(time.perf_counter() - started)
    with engine.connect() as connection:
        counts = {
            table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)
            for table in TABLES
        }
    engine.dispose()
    return times[0], times[1], counts


def yardstick(source_url: str, target_url: str) -> float:
    """Seconds to insert every row the import wrote into a fresh store with executemany."""
    source, target = connect(source_url), connect(target_url)
    upgrade(target)
    metadata = sa.MetaData()
    metadata.reflect(source, only=TABLES)
    with source.connect() as connection:
        rows = {
            table: [
                dict(row._mapping) for row in connection.execute(metadata.tables[table].select())
            ]
            for table in TABLES
        }
        postgres = source.dialect.name == "postgresql"
        search = (
            "SELECT change_id, document, bigrams FROM change_search"
            if postgres
            else "SELECT s.rowid, s.document, b.bigrams FROM change_search s "
            "JOIN change_search_bigram b ON b.rowid = s.rowid"
        )
        documents = [
            {"id": a, "document": b, "bigrams": c}
            for a, b, c in connection.exec_driver_sql(search).all()
        ]
    target_tables = sa.MetaData()
    target_tables.reflect(target, only=TABLES)
    started = time.perf_counter()
    with target.begin() as connection:
        for table in TABLES:
            connection.execute(target_tables.tables[table].insert(), rows[table])
        if postgres:
            connection.execute(
                sa.text(
                    "INSERT INTO change_search (change_id, document, bigrams) "
                    "VALUES (:id, :document, :bigrams)"
                ),
                documents,
            )
        else:
            connection.execute(
                sa.text("INSERT INTO change_search (rowid, document) VALUES (:id, :document)"),
                documents,
            )
            connection.execute(
                sa.text("INSERT INTO change_search_bigram (rowid, bigrams) VALUES (:id, :bigrams)"),
                documents,
            )
    elapsed = time.perf_counter() - started
    source.dispose()
    target.dispose()
    return elapsed


def run_store(label: str, urls: tuple[str, str], path: Path, count: int) -> None:
    load = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
    first, again, counts = timed_import(urls[0], path)
    stick = yardstick(*urls)
    rows = ", ".join(f"{table} {n:,}" for table, n in counts.items())
    print(f"{label} (load {load}): {rows}")
    print(f"  import        {first:7.2f} s  {count / first:8,.0f} notices/s")
    print(f"  import again  {again:7.2f} s  {count / again:8,.0f} notices/s (all known)")
    print(f"  yardstick     {stick:7.2f} s  {count / stick:8,.0f} notices/s (Core executemany)")
    print(f"  ratio         {first / stick:7.1f} × the yardstick")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--notices", type=int, default=10_000)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the generated notices to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = args.keep or folder / "notices.jsonl"
        lines = notices(args.notices, random.Random(14))
        path.write_text(
            "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in lines), encoding="utf-8"
        )
        count, parsed, extracted = extraction(path)
        print(
            f"{count:,} notices ({path.stat().st_size / 1e6:.1f} MB): read {parsed:.2f} s, "
            f"extract {extracted:.2f} s ({count / (parsed + extracted):,.0f} notices/s)"
        )
        if not args.no_sqlite:
            urls = (f"sqlite:///{folder / 'import.db'}", f"sqlite:///{folder / 'yardstick.db'}")
            run_store("SQLite", urls, path, count)
        if not args.no_postgres:
            with (
                postgres_database(args.postgres, "import_a") as first,
                postgres_database(args.postgres, "import_b") as second,
            ):
                run_store("PostgreSQL", (first, second), path, count)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {platform.machine()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}"
    )


if __name__ == "__main__":
    main()
