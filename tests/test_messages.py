"""Rendering a reminder: subject, bodies and the webhook payload."""

from __future__ import annotations

from datetime import date

from reminder_facts import facts

from alerts.reminders.messages import render


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


def test_a_watchs_mentions_stay_out_of_the_webhook_body():
    # Planned into the context with the move; phone numbers are not the receivers' business.
    context = {"from": "2026-12-15", "to": "2026-12-31", "mention": ["13800000000"]}
    body = render(facts(kind="changed", context=context), today=date(2026, 12, 8)).payload
    assert body["changed"] == {"from": "2026-12-15", "to": "2026-12-31"}
