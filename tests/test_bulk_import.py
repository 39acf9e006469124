"""An import stores in batches what storing its notices one at a time would (issue 14): the
same file imported both ways, on SQLite and PostgreSQL, leaves the same rows in every table
an import writes, ids aside. The file has repeats, merges, moves (postponements and new
dates for the same 公示), several platforms, notices without a publish time or a year,
notices naming no change, and changes a person merged or moved onto another rule between
two imports; the same file imported again stores nothing."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy import Engine

from alerts.timeline import ingest
from alerts.timeline.corrections import correct
from alerts.timeline.ingest import IngestReport, import_files, ingest_notice, notices_in
from store.db import committed, connect, session_scope, upgrade

TZ = ZoneInfo("Asia/Shanghai")
RULES = [
    f"{platform}{topic}"
    for platform in ("淘宝", "京东", "拼多多", "1688", "抖音电商")
    for topic in ("发货管理规范", "退款规则", "营销活动规范")
]


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def generated(count: int, rng: random.Random) -> list[dict[str, object]]:
    """``count`` notices of 15 rules of five platforms, in the shapes an import meets."""
    start = datetime(2025, 1, 6, 9, tzinfo=TZ)
    latest: dict[str, tuple[date, date]] = {}
    made: list[dict[str, object]] = []
    for i in range(count):
        if i % 9 == 8:  # posted again, word for word
            made.append(dict(made[rng.randrange(len(made))]))
            continue
        rule = rng.choice(RULES)
        published = start + timedelta(hours=5 * i)
        shape = rng.random()
        if rule not in latest or shape < 0.35:
            announced = published.date()
            effective = announced + timedelta(days=5 + rng.randrange(20))
            text = f"《{rule}》于{_day(announced)}公示，{_day(effective)}起正式生效。"
            latest[rule] = (announced, effective)
        elif shape < 0.55:  # the same change again: merged
            announced, effective = latest[rule]
            text = f"《{rule}》已于{_day(announced)}公示，将于{_day(effective)}生效。"
        elif shape < 0.7:  # postponed
            announced, old = latest[rule]
            effective = old + timedelta(days=3 + rng.randrange(9))
            text = f"《{rule}》原定于{_day(old)}生效，现延期至{_day(effective)}生效。"
            latest[rule] = (announced, effective)
        elif shape < 0.8:  # new dates for the same 公示
            announced, old = latest[rule]
            effective = old + timedelta(days=2)
            text = f"《{rule}》于{_day(announced)}公示，调整为{_day(effective)}生效。"
            latest[rule] = (announced, effective)
        elif shape < 0.85:  # two rules in one notice
            other = rng.choice(RULES)
            effective = published.date() + timedelta(days=10)
            text = (
                f"《{rule}》与《{other}》于{_day(published.date())}公示，"
                f"均于{_day(effective)}起生效。"
            )
        elif shape < 0.9:  # no dates: joins what its rule had that day
            text = f"《{rule}》修订说明：明确适用范围，细化认定标准。"
        elif shape < 0.93:  # days without a year
            text = f"《{rule}》于12月1日公示，12月15日生效。"
        elif shape < 0.96:
            text = "平台将持续优化营商环境，与广大商家共同维护良好的经营秩序。"
        else:
            text = f"《{rule}》\x00于{_day(published.date())}公示，下月起生效。"
        notice: dict[str, object] = {"title": f"公告{i}：{rule}", "text": text}
        if i % 13 != 5:  # some come without a publish time: ordered by when they arrive
            notice["published_at"] = published.isoformat()
        made.append(notice)
    return made


# Notices about changes a person corrects between the two halves: one moved onto another
# rule (the same notice of its first rule again must find its uid taken), and two merged
# (a later postponement of the merged one is a source of the one it went into).
BEFORE = [
    {
        "title": "淘宝直播管理规范变更",
        "text": "《淘宝直播管理规范》于2026年3月2日公示，2026年3月20日生效。",
        "published_at": "2026-03-02T10:00:00+08:00",
    },
    {
        "title": "京东发票管理规范变更",
        "text": "《京东发票管理规范》于2026年4月1日公示，2026年4月20日生效。",
        "published_at": "2026-04-01T10:00:00+08:00",
    },
    {
        "title": "京东发票管理规范再次变更",
        "text": "《京东发票管理规范》于2026年4月5日公示，2026年5月1日生效。",
        "published_at": "2026-04-05T10:00:00+08:00",
    },
]
AFTER = [
    {
        "title": "淘宝直播管理规范变更（重发）",
        "text": "《淘宝直播管理规范》于2026年3月2日公示，2026年3月20日生效。",
        "published_at": "2026-03-02T15:00:00+08:00",
    },
    {
        "title": "京东发票管理规范延期",
        "text": "《京东发票管理规范》原定于2026年5月1日生效，现延期至2026年5月10日生效。",
        "published_at": "2026-04-20T10:00:00+08:00",
    },
]


def _write(path: Path, notices: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(n, ensure_ascii=False) + "\n" for n in notices), "utf-8")
    return path


@pytest.fixture
def two_stores(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """Two fresh stores of the same backend, every migration applied."""
    second = (
        f"sqlite:///{tmp_path / 'one_by_one.db'}"
        if database_url.startswith("sqlite")
        else request.getfixturevalue("postgres_database")
    )
    engines = [connect(database_url), connect(second)]
    for engine in engines:
        upgrade(engine)
    yield engines
    for engine in engines:
        engine.dispose()


def in_batches(engine: Engine, path: Path) -> IngestReport:
    with session_scope(engine) as session:
        return import_files(session, [path], tz=TZ)


def one_by_one(engine: Engine, path: Path) -> IngestReport:
    """The file stored through the single-notice entry point, a transaction per notice, as
    the API's POST /api/notices stores one."""
    report = IngestReport()
    with session_scope(engine) as session:
        for notice in notices_in(path):
            write = lambda notice=notice: ingest_notice(  # noqa: E731
                session, notice, origin=path.name, tz=TZ
            )
            report.extend(committed(session, write))
    return report


def corrected(engine: Engine) -> None:
    """A person's corrections between the halves: the same in both stores."""
    with session_scope(engine) as session:
        uids = {
            (key, effective): uid
            for uid, key, effective in session.connection().execute(
                sa.text(
                    "SELECT c.uid, r.key, c.effective_on FROM rule_change c "
                    "JOIN rule r ON r.id = c.rule_id"
                )
            )
        }

        def uid(key: str, effective: str) -> str:
            return next(u for (k, e), u in uids.items() if k == key and str(e) == effective)

        live = uid("淘宝直播管理规范", "2026-03-20")
        correct(session, "ann", "edit", live, "天猫的规则", values={"rule": "天猫直播管理规范"})
        keep, drop = uid("京东发票管理规范", "2026-04-20"), uid("京东发票管理规范", "2026-05-01")
        correct(session, "ann", "merge", keep, "重复", other=drop, tz=TZ)


def rows(engine: Engine) -> dict[str, Any]:
    """Every row an import or a correction writes, ids turned into what they stand for."""
    with engine.connect() as connection:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in connection.execute(sa.text(sql))]

        rule = dict(query("SELECT id, key FROM rule"))
        change = dict(query("SELECT id, uid FROM rule_change"))
        notice = dict(query("SELECT id, content_hash FROM notice"))
        changes = connection.execute(sa.text("SELECT * FROM rule_change ORDER BY id")).mappings()
        search = (
            "SELECT change_id, document, bigrams FROM change_search"
            if engine.dialect.name == "postgresql"
            else "SELECT s.rowid, s.document, b.bigrams FROM change_search s "
            "JOIN change_search_bigram b ON b.rowid = s.rowid"
        )
        return {
            "rule": sorted(query("SELECT key, name, platform, created_at FROM rule")),
            "notice": sorted(
                query(
                    "SELECT content_hash, title, url, published_at, text, origin, problem, "
                    "created_at FROM notice"
                )
            ),
            # In id order: the order of a rule's changes is the order the timeline sees.
            "rule_change": [
                {k: v for k, v in c.items() if k != "id"}
                | {"rule_id": rule[c["rule_id"]], "merged_into_id": change.get(c["merged_into_id"])}
                for c in changes
            ],
            "change_notice": sorted(
                (change[c], notice[n])
                for c, n in query("SELECT change_id, notice_id FROM change_notice")
            ),
            "search": sorted((change[c], d, b) for c, d, b in query(search)),
            "change_revision": sorted(
                (change[c], *rest)
                for c, *rest in query(
                    "SELECT change_id, at, actor, action, reason, detail FROM change_revision"
                )
            ),
            "audit": sorted(query("SELECT at, actor, action, target, detail FROM audit")),
        }


def _reported(report: IngestReport) -> tuple[Any, ...]:
    return (
        report.notices_added,
        report.notices_known,
        report.unreadable,
        report.without_year,
        report.changes,
    )


@time_machine.travel(datetime(2026, 6, 1, 3, tzinfo=UTC), tick=False)
def test_an_import_in_batches_stores_what_one_notice_at_a_time_does(
    two_stores: list[Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(ingest, "BATCH", 16)  # many batches, and state carried across them
    notices = generated(240, random.Random(14))
    first = _write(tmp_path / "first.jsonl", BEFORE + notices[:150])
    second = _write(tmp_path / "second.jsonl", notices[150:] + AFTER + BEFORE[:1])
    batched, single = two_stores
    reports = []
    for path in (first, second):
        reports.append((_reported(in_batches(batched, path)), _reported(one_by_one(single, path))))
        if path is first:
            corrected(batched)
            corrected(single)
    for in_batch, alone in reports:
        assert in_batch == alone
    stored = rows(batched)
    assert stored == rows(single)

    # What the file holds happened: repeats, merges, moves, platforms, a merged change's
    # later notice on the change it went into, a moved change's uid not taken again.
    report = in_batches(batched, first)  # again: nothing stored
    assert (report.notices_added, report.changes) == (0, [])
    assert report.notices_known == len(BEFORE) + 150
    assert rows(batched) == stored
    actions = {change.action for before, _ in reports for change in before[4]}
    assert actions == {"added", "merged", "moved"}
    assert sum(before[1] for before, _ in reports) > 20  # repeated word for word
    assert len({platform for _, _, platform, _ in stored["rule"]}) == 5
    by_uid = {c["uid"]: c for c in stored["rule_change"]}
    merged = [c for c in by_uid.values() if c["status"] == "merged"]
    assert [c["merged_into_id"] for c in merged] != [None]
    [target] = [by_uid[c["merged_into_id"]] for c in merged]
    postponed = next(n for n in stored["notice"] if n[1] == "京东发票管理规范延期")
    assert (target["uid"], postponed[0]) in stored["change_notice"]
    live = [c for c in by_uid.values() if c["rule_id"].endswith("直播管理规范")]
    assert sorted(c["rule_id"] for c in live) == ["天猫直播管理规范", "淘宝直播管理规范"]
    assert any(c["revision"] > 0 and c["postponed_from"] for c in by_uid.values())


def test_an_import_tells_its_progress_after_each_batch(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(ingest, "BATCH", 16)
    path = _write(tmp_path / "notices.jsonl", generated(40, random.Random(3)))
    told: list[tuple[str, int, int]] = []
    with session_scope(engine) as session:
        import_files(session, [path], tz=TZ, progress=lambda *said: told.append(said))
    assert told == [("notices.jsonl", 16, 40), ("notices.jsonl", 32, 40), ("notices.jsonl", 40, 40)]


@time_machine.travel(datetime(2026, 6, 1, 3, tzinfo=UTC), tick=False)
def test_an_import_that_fails_midway_keeps_whole_batches_and_completes_when_run_again(
    two_stores: list[Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from store import bulk

    monkeypatch.setattr(ingest, "BATCH", 16)
    path = _write(tmp_path / "notices.jsonl", generated(60, random.Random(5)))
    broken, whole = two_stores
    write, calls = bulk.write, []

    def failing(session: Any, writes: Any) -> None:
        calls.append(1)
        write(session, writes)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")

    monkeypatch.setattr(bulk, "write", failing)
    with pytest.raises(RuntimeError):
        in_batches(broken, path)
    monkeypatch.setattr(bulk, "write", write)
    with broken.connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*) FROM notice")).scalar()
    first = {ingest.content_hash(ingest.cleaned(n)) for n in notices_in(path)[:16]}
    assert stored == len(first)  # the first batch, and nothing of the second
    in_batches(broken, path)
    in_batches(whole, path)
    assert rows(broken) == rows(whole)


def test_a_batch_that_waited_for_another_writer_sees_the_change_it_added(
    engine: Engine, monkeypatch
):
    # Two instances place notices of one rule at once: the first adds a change and has not
    # committed yet when the second, about the same change, begins. The second must merge
    # into that change once the first commits, not add a second one beside it.
    import threading

    from alerts.extract.model import Notice
    from alerts.timeline import batch
    from store import queries

    rule = "淘宝竞态测试规范"

    def notice(title: str, text: str, when: str) -> Notice:
        return Notice(
            title=title, text=text, published_at=datetime.fromisoformat(when).replace(tzinfo=TZ)
        )

    first_change = notice(
        f"《{rule}》变更公告",
        f"《{rule}》于2026年11月1日公示，将于2026年12月1日生效。",
        "2026-11-01 10:00",
    )
    revision = f"《{rule}》于2027年2月1日公示，将于2027年3月1日生效。"
    with session_scope(engine) as session:
        ingest.ingest(session, [first_change], origin="t", tz=TZ)

    written, go = threading.Event(), threading.Event()
    write = batch.bulk.write

    def held_open(session: Any, writes: Any) -> None:
        write(session, writes)
        if threading.current_thread().name == "first":
            written.set()  # its rows are written, its transaction still open
            go.wait(30)

    monkeypatch.setattr(batch.bulk, "write", held_open)

    def place(title: str, when: str) -> None:
        with session_scope(engine) as session:
            ingest.ingest(session, [notice(title, revision, when)], origin="t", tz=TZ)

    first = threading.Thread(
        target=place, args=(f"《{rule}》再次修订", "2027-02-01 10:00"), name="first"
    )
    second = threading.Thread(
        target=place, args=(f"《{rule}》再次修订（转载）", "2027-02-01 11:00"), name="second"
    )
    first.start()
    assert written.wait(30)
    second.start()
    second.join(2)  # it waits for the first (SQLite's write lock, PostgreSQL's advisory lock)
    go.set()
    first.join(30)
    second.join(30)
    with session_scope(engine) as session:
        changes = queries.list_changes(session, rule=rule)
    assert sorted(str(change.effective_on) for change, _ in changes) == ["2026-12-01", "2027-03-01"]
