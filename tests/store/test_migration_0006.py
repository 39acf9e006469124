"""Migration 0006 on real stores: older delivery rows take their channel and message id
from their reminder, so a channel's rate limit counts what was sent before the upgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlmodel import SQLModel

from store.db import connect, session_scope, upgrade
from store.models import Delivery, Reminder, Rule, RuleChange

T0 = datetime(2026, 12, 1, 2, tzinfo=UTC)


def add(engine: Engine, model: type[SQLModel], **values: Any) -> int:
    table = model.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        return int(connection.execute(insert(table).values(**values)).inserted_primary_key[0])


def test_older_deliveries_name_the_channel_and_id_they_were_sent_as(database_url: str):
    engine = connect(database_url)
    upgrade(engine, "0005")
    rule = add(engine, Rule, key="k", name="k", platform=None, created_at=T0)
    change = add(
        engine,
        RuleChange,
        uid="c-1",
        rule_id=rule,
        kind="amendment",
        title="t",
        summary="",
        effective_on=date(2026, 12, 15),
        tentative=False,
        status="active",
        revision=0,
        dated_by=T0,
        created_at=T0,
        updated_at=T0,
    )
    for uid, channel in (("r-ops", "ops-dingtalk"), ("r-mail", "compliance-mail")):
        reminder = add(
            engine,
            Reminder,
            uid=uid,
            dedupe_key=f"c-1:{channel}:announced",
            change_id=change,
            channel=channel,
            kind="announced",
            revision=0,
            due_at=T0,
            status="sent",
            attempts=2,
            next_attempt_at=T0,
            context="{}",
            created_at=T0,
            updated_at=T0,
        )
        for attempt in (1, 2):
            add(
                engine,
                Delivery,
                reminder_id=reminder,
                attempt=attempt,
                started_at=T0,
                duration_ms=5,
                outcome="delivered",
            )

    upgrade(engine)

    with session_scope(engine) as session:
        rows = session.exec(select(Delivery.channel, Delivery.message_id)).all()  # type: ignore[call-overload]
    assert sorted(rows) == [
        ("compliance-mail", "r-mail"),
        ("compliance-mail", "r-mail"),
        ("ops-dingtalk", "r-ops"),
        ("ops-dingtalk", "r-ops"),
    ]
    engine.dispose()
