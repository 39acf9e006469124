"""Rendering a reminder: subject, bodies and the webhook payload."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from alerts.reminders.dispatcher import outgoing_facts
from alerts.reminders.messages import ReminderFacts, render
from store import outbox
from store.queries import SourceRow

TZ = ZoneInfo("Asia/Shanghai")
STORED = datetime(2026, 12, 1, 2, tzinfo=UTC)


def facts(**fields: object) -> ReminderFacts:
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
    sources = [
        SourceRow("原公告", "https://example.com/a", None, STORED),
        SourceRow("恶意链接", "javascript:alert(1)", None, STORED),
    ]
    return outgoing_facts(row, sources, "https://rw.example.com", TZ)


def test_lead_reminder_says_days_left_in_the_subject_and_bodies():
    message = render(facts(), today=date(2026, 12, 8))
    assert message.subject == "【7天后生效】 1688商家发货行为管理规范"
    assert "距生效：7 天" in message.text
    assert message.payload["days_left"] == 7 and message.id == "r1"


def test_html_escapes_text_and_links_only_web_addresses():
    html = render(facts(), today=date(2026, 12, 8)).html
    assert "&lt;b&gt;要求&lt;/b&gt;" in html
    assert 'href="https://example.com/a"' in html
    assert 'href="javascript:' not in html


def test_changed_and_withdrawn_headlines():
    moved = render(
        facts(kind="changed", context={"from": "2026-12-15", "to": "2026-12-31"}),
        today=date(2026, 12, 8),
    )
    assert moved.subject.startswith("【生效日期变更】")
    assert "由 2026-12-15 改为 2026-12-31" in moved.text
    assert moved.payload["changed"] == {"from": "2026-12-15", "to": "2026-12-31"}
    gone = render(
        facts(kind="changed", context={"withdrawn": True, "effective_on": "2026-12-15"}),
        today=date(2026, 12, 8),
    )
    assert gone.subject.startswith("【已撤回】")


def test_subject_is_one_line_whatever_the_rule_key():
    message = render(facts(rule_key="淘宝\r\nBcc: x@example.com"), today=date(2026, 12, 8))
    assert "\r" not in message.subject and "\n" not in message.subject
