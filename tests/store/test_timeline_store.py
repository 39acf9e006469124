"""The timeline in a real store (SQLite file and PostgreSQL): import, merge, move, idempotence."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from alerts.extract.model import Notice
from alerts.timeline.ingest import add_change, import_files, ingest
from alerts.timeline.views import change_views
from store.db import session_scope, upgrade
from store.queries import list_rules
from store.search import modelled

TZ = ZoneInfo("Asia/Shanghai")
SHIPPING = "1688商家发货行为管理规范"
SHIPPING_DATES = [
    "2022-10-18",
    "2023-02-21",
    "2023-06-07",
    "2023-09-12",
    "2023-12-27",
    "2024-03-14",
    "2025-02-18",
]


def timeline(engine: Engine, rule: str = SHIPPING) -> list:
    with session_scope(engine) as session:
        return [
            v
            for v in change_views(session, today=date(2026, 1, 1), tz=TZ, rule=rule)
            if v.rule_key == rule
        ]


def test_migrations_create_exactly_the_models_tables(engine: Engine):
    with engine.connect() as connection:
        assert (
            compare_metadata(
                MigrationContext.configure(connection, opts={"include_name": modelled}),
                SQLModel.metadata,
            )
            == []
        )
    assert {"rule", "rule_change", "notice", "change_notice"} <= set(
        inspect(engine).get_table_names()
    )
    upgrade(engine)  # upgrading an up-to-date store is a no-op


def test_seed_listing_gives_the_shipping_rule_its_timeline(engine: Engine, seed_listing: Path):
    with session_scope(engine) as session:
        report = import_files(session, [seed_listing], tz=TZ)
    assert report.notices_added == 20
    effective = [str(v.effective_on) for v in timeline(engine) if v.effective_on]
    for day in SHIPPING_DATES:
        assert effective.count(day) == 1, f"{day} appears {effective.count(day)} times"
    by_date = {str(v.effective_on): v for v in timeline(engine)}
    # Items 7 and 9 report the 2023-06-07 change; item 9 adds its 公示 date.
    assert len(by_date["2023-06-07"].sources) == 2
    assert by_date["2023-06-07"].announced_on == date(2023, 5, 31)
    # Items 8 and 12 report the 2023-09-12 change on the same day.
    assert len(by_date["2023-09-12"].sources) == 2


def test_import_is_idempotent(engine: Engine, seed_listing: Path):
    with session_scope(engine) as session:
        import_files(session, [seed_listing], tz=TZ)
    before = [v.as_json() for v in timeline(engine)]
    with session_scope(engine) as session:
        again = import_files(session, [seed_listing], tz=TZ)
    assert (again.notices_added, again.notices_known, again.changes) == (0, 20, [])
    assert [v.as_json() for v in timeline(engine)] == before


def test_order_of_import_does_not_change_the_timeline(engine: Engine, shared: Path):
    items = json.loads((shared / "dev" / "seed_items.json").read_text(encoding="utf-8"))
    notices = [
        Notice(
            title=i["title"], text=i["text"], published_at=datetime.fromisoformat(i["published_at"])
        )
        for i in sorted(items, key=lambda i: i["published_at"], reverse=True)
    ]
    with session_scope(engine) as session:
        ingest(session, notices, origin="test", tz=TZ)
    effective = sorted(str(v.effective_on) for v in timeline(engine) if v.effective_on)
    assert effective == sorted([*SHIPPING_DATES, "2023-06-01"])


def test_postponement_keeps_the_uid_and_raises_the_revision(engine: Engine):
    first = Notice(
        title="《淘宝网商品发布规范》变更公示",
        text="本次变更于2025年3月1日公示，2025年3月8日生效。",
        published_at=datetime(2025, 3, 1, 10, tzinfo=TZ),
    )
    later = Notice(
        title="《淘宝网商品发布规范》生效时间调整",
        text="《淘宝网商品发布规范》原定于2025年3月8日生效，现延期至2025年3月20日生效。",
        published_at=datetime(2025, 3, 6, 10, tzinfo=TZ),
    )
    with session_scope(engine) as session:
        ingest(session, [first], origin="test", tz=TZ)
    (before,) = timeline(engine, "淘宝商品发布规范")
    with session_scope(engine) as session:
        report = ingest(session, [later], origin="test", tz=TZ)
    assert [c.action for c in report.changes] == ["moved"]
    (after,) = timeline(engine, "淘宝商品发布规范")
    assert after.uid == before.uid
    assert (after.effective_on, after.postponed_from, after.revision) == (
        date(2025, 3, 20),
        date(2025, 3, 8),
        before.revision + 1,
    )
    assert len(after.sources) == 2


def test_hand_entered_change_is_stored_once(engine: Engine):
    def enter() -> list[str]:
        with session_scope(engine) as session:
            report = add_change(
                session,
                rule="商品发布管理规范",
                platform="京东",
                announced_on=date(2026, 12, 1),
                effective_on=date(2026, 12, 15),
                now=datetime(2026, 11, 27, 2, tzinfo=UTC),
                tz=TZ,
            )
        return [c.action for c in report.changes]

    assert enter() == ["added"]
    assert enter() == []
    (view,) = timeline(engine, "京东商品发布管理规范")
    assert (view.platform, view.effective_on, view.days_left) == ("京东", date(2026, 12, 15), 348)
    with session_scope(engine) as session:
        assert [(r.key, n) for r, n in list_rules(session)] == [("京东商品发布管理规范", 1)]


def test_instants_come_back_time_zone_aware(engine: Engine):
    published = datetime(2025, 3, 1, 10, 30, tzinfo=TZ)
    with session_scope(engine) as session:
        ingest(
            session,
            [
                Notice(
                    title="《抖店商品发布规范》变更",
                    text="2025年3月8日生效。",
                    published_at=published,
                )
            ],
            origin="test",
            tz=TZ,
        )
    (view,) = [v for v in timeline(engine, "抖音电商商品发布规范")]
    assert view.sources[0].published_at == published
    assert view.sources[0].published_at.tzinfo is not None


def test_a_notice_with_an_impossible_publish_time_is_kept_with_the_reason(engine: Engine):
    ancient = Notice(
        title="《淘宝X规范》变更", text="本规范于1月1日生效。", published_at=date(1, 1, 1)
    )
    with session_scope(engine) as session:
        report = ingest(session, [ancient], origin="test", tz=TZ)
    assert report.changes == []
    assert report.unreadable == [
        ("《淘宝X规范》变更", "publish time 0001-01-01 is outside 1970–2199")
    ]
    assert report.notices_added == 1


def test_nul_characters_in_an_imported_text_do_not_break_the_store(engine: Engine):
    notice = Notice(
        title="《淘宝网评价规范》\x00更新",
        text="本次更新2026年12月1日公示，\x002026年12月15日生效。",
        published_at=datetime(2026, 12, 1, 10, tzinfo=TZ),
    )
    with session_scope(engine) as session:
        report = ingest(session, [notice], origin="test", tz=TZ)
    assert [c.effective_on for c in report.changes] == [date(2026, 12, 15)]
    (view,) = timeline(engine, "淘宝评价规范")
    assert "\x00" not in view.sources[0].title
