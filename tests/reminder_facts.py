"""A claimed reminder's facts for tests that render messages, built the way the dispatcher
builds them: ``outgoing_facts`` over an outbox row.

``tests/`` is on ``sys.path``, so tests import this module as ``reminder_facts``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from alerts.reminders.dispatcher import outgoing_facts
from alerts.reminders.messages import ReminderFacts
from store import outbox
from store.queries import SourceRow

TZ = ZoneInfo("Asia/Shanghai")
STORED = datetime(2026, 12, 1, 2, tzinfo=UTC)
SOURCES = (
    SourceRow("原公告", "https://example.com/a", None, STORED),
    SourceRow("恶意链接", "javascript:alert(1)", None, STORED),
)


def facts(*, sources: Sequence[SourceRow] = SOURCES, **fields: object) -> ReminderFacts:
    """The facts of a claimed reminder, built by the function the dispatcher uses, from an
    outbox row whose values ``fields`` override (named as ReminderFacts names them)."""
    values: dict[str, object] = {
        "id": 1,
        "uid": fields.pop("reminder_uid", "r1"),
        "channel": "hook",
        "kind": "lead",
        "lead_days": 7,
        "context": json.dumps(fields.pop("context", {})),
        "due_at": datetime(2026, 12, 8, 9, tzinfo=TZ),
        "attempts": 1,
        "change_id": 1,
        "change_uid": "c1",
        "change_kind": "amendment",
        "title": "《1688商家发货行为管理规范》变更",
        "summary": "调整了发货时效 <b>要求</b>",
        "announced_on": date(2026, 12, 1),
        "effective_on": date(2026, 12, 15),
        "effective_at": None,
        "tentative": False,
        "change_status": fields.pop("status", "active"),
        "revision": 0,
        "postponed_from": None,
        "rule_name": "1688商家发货行为管理规范",
        "rule_key": "1688商家发货行为管理规范",
        "platform": "1688",
    }
    row = outbox.Outgoing(**(values | fields))  # type: ignore[arg-type]
    return outgoing_facts(row, sources, "https://rw.example.com", TZ)
