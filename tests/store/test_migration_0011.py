"""Migration 0011 on real stores: the changes stored before search are found by it, through
their rule, title and the texts of their notices, as later ones are."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import Engine, insert
from sqlmodel import SQLModel

from alerts.timeline.ingest import add_change
from alerts.timeline.views import change_views
from store.db import connect, session_scope, upgrade
from store.models import ChangeNotice, Notice, Rule, RuleChange

T0 = datetime(2026, 12, 1, 2, tzinfo=UTC)


def add(engine: Engine, model: type[SQLModel], **values: Any) -> int:
    table = model.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        return int(connection.execute(insert(table).values(**values)).inserted_primary_key[0])


def change(engine: Engine, uid: str, rule: str, title: str, notice_text: str) -> None:
    rule_id = add(engine, Rule, key=rule, name=rule, platform="淘宝", created_at=T0)
    change_id = add(
        engine,
        RuleChange,
        uid=uid,
        rule_id=rule_id,
        kind="amendment",
        title=title,
        summary="",
        effective_on=date(2026, 12, 15),
        tentative=False,
        status="active",
        revision=0,
        created_at=T0,
        updated_at=T0,
    )
    notice_id = add(
        engine,
        Notice,
        content_hash=uid,
        title=title,
        text=notice_text,
        origin="test",
        created_at=T0,
    )
    add(engine, ChangeNotice, change_id=change_id, notice_id=notice_id)


def found(engine: Engine, query: str) -> list[str]:
    with session_scope(engine) as session:
        views = change_views(session, today=T0.date(), tz=ZoneInfo("Asia/Shanghai"), search=query)
    return [view.uid for view in views]


def test_a_store_from_before_search_is_searchable_after_the_upgrade(database_url: str):
    engine = connect(database_url)
    upgrade(engine, "0008")
    change(engine, "c-ship", "淘宝發貨管理規範", "規範修訂", "商家應在48小時內發貨。")
    change(engine, "c-bond", "天猫保证金规则", "保证金调整", "Deposit for SELLERS raised.")
    upgrade(engine)
    assert found(engine, "发货") == ["c-ship"]  # traditional in the store, simplified asked
    assert found(engine, "48小时") == ["c-ship"]  # a notice's text
    assert found(engine, "保证金") == ["c-bond"]
    assert found(engine, "ｓｅｌｌｅｒｓ deposit") == ["c-bond"]
    assert found(engine, "发货 保证金") == []
    engine.dispose()


@pytest.mark.postgres
def test_without_pg_trgm_the_search_scans_and_the_log_says_so(
    postgres_database: str, caplog: pytest.LogCaptureFixture
):
    # A role that may make tables in the database's schema but not extensions in it.
    role = f"rulewatch_noext_{uuid.uuid4().hex[:8]}"
    admin = postgres_database.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE ROLE "{role}" LOGIN')
        connection.execute(f'ALTER SCHEMA public OWNER TO "{role}"')
    url = postgres_database.replace(
        "postgresql+psycopg://postgres@", f"postgresql+psycopg://{role}@"
    )
    engine = connect(url)
    try:
        with caplog.at_level(logging.WARNING, logger="rulewatch.migrations"):
            upgrade(engine)
        assert "cannot create the pg_trgm extension" in caplog.text
        with session_scope(engine) as session:
            add_change(
                session,
                rule="淘宝发货管理规范",
                platform="淘宝",
                effective_on=date(2026, 12, 20),
                now=T0,
                tz=ZoneInfo("Asia/Shanghai"),
            )
        assert len(found(engine, "发货")) == 1
        assert len(found(engine, "发货管理")) == 1
        assert found(engine, "保证金") == []
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            # The role owns what it made in the throwaway database: hand it back, then go.
            connection.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
            connection.execute(f'DROP OWNED BY "{role}"')
            connection.execute(f'DROP ROLE "{role}"')
