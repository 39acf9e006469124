"""A reminder rendered for people and machines: subject, text, HTML and the webhook body.

Pure apart from loading the Jinja2 templates once. The webhook body is documented in the
README; change it only together with that description.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from typing import TYPE_CHECKING, Any

from notifiers.base import Message

if TYPE_CHECKING:  # Jinja2 is imported when a message is first rendered
    from jinja2 import Environment, Template


@dataclass(frozen=True)
class Source:
    title: str
    url: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class ReminderFacts:
    """Everything a message says, gathered by the dispatcher from the store."""

    reminder_uid: str
    kind: str  # announced | lead | changed
    lead_days: int | None
    context: dict[str, Any]
    due_at: datetime
    change_uid: str
    rule_name: str
    rule_key: str
    platform: str | None
    change_kind: str
    title: str
    summary: str
    announced_on: date | None
    effective_on: date | None
    effective_at: time | None
    tentative: bool
    status: str
    revision: int
    postponed_from: date | None
    sources: tuple[Source, ...]
    link: str


SOON_DAYS = 7  # how far ahead a digest lists the changes not handled yet, today included


@dataclass(frozen=True)
class Unhandled:
    """A change taking effect soon that watches sending to the channel have not handled."""

    rule_name: str
    platform: str | None
    effective_on: date
    days_left: int
    watches: tuple[str, ...]  # those that have not marked it handled
    link: str


def render(facts: ReminderFacts, *, today: date, bodies: bool = True) -> Message:
    """The message for ``facts``, with days left counted from ``today`` (service time zone).

    With ``bodies=False`` the text and HTML bodies are left empty, for a channel that sends
    only the subject and payload (a webhook): the two templates are most of the cost of
    rendering a message.
    """
    days_left = (facts.effective_on - today).days if facts.effective_on else None
    values = {"f": facts, "days_left": days_left, "headline": _headline(facts, days_left)}
    text, html = _templates() if bodies else (None, None)
    return Message(
        id=facts.reminder_uid,
        subject=_one_line(f"{values['headline']} {facts.rule_key}"),
        text=text.render(values) if text else "",
        html=html.render(values) if html else "",
        payload=payload(facts, days_left=days_left),
        # Planned with the reminder: who the watches sending it want @-mentioned.
        mentions=tuple(str(m) for m in facts.context.get("mention") or ()),
    )


# Digest ids are derived from the reminders they carry, so the same digest sent again (a
# retry, a crash mid-send) has the same id and receivers drop the repeat.
_DIGEST_IDS = uuid.UUID("6c1f3b9e-2d4a-4e8b-9f71-0a5c2e7d8b43")


@dataclass(frozen=True)
class _Entry:
    f: ReminderFacts
    days_left: int | None
    headline: str


def render_digest(
    items: Sequence[ReminderFacts],
    *,
    today: date,
    link: str,
    bodies: bool = True,
    unhandled: Sequence[Unhandled] = (),
) -> Message:
    """One message for several reminders of one channel: each listed with its headline,
    rule, 公示 and 生效; then the changes taking effect soon not handled yet
    (``unhandled``); ``link`` is the timeline page. Its id is derived from the reminders'
    ids."""
    ordered = sorted(items, key=lambda f: (f.effective_on or date.max, f.rule_key, f.kind))
    entries = []
    for f in ordered:
        days_left = (f.effective_on - today).days if f.effective_on else None
        entries.append(_Entry(f, days_left, _headline(f, days_left)))
    subject = f"【规则提醒汇总】{len(entries)} 条提醒"
    digest_id = uuid.uuid5(_DIGEST_IDS, ",".join(sorted(f.reminder_uid for f in items))).hex
    values = {
        "subject": subject,
        "entries": entries,
        "link": link,
        "unhandled": unhandled,
        "soon_days": SOON_DAYS,
    }
    text, html = _digest_templates() if bodies else (None, None)
    mentions = dict.fromkeys(str(m) for f in ordered for m in f.context.get("mention") or ())
    return Message(
        id=digest_id,
        subject=subject,
        text=text.render(values) if text else "",
        html=html.render(values) if html else "",
        payload={
            "id": digest_id,
            "type": "rule_change.digest",
            "kind": "digest",
            "count": len(entries),
            "items": [payload(e.f, days_left=e.days_left) for e in entries],
            "unhandled": [
                {
                    "rule": u.rule_name,
                    "platform": u.platform,
                    "effective_on": u.effective_on.isoformat(),
                    "days_left": u.days_left,
                    "watches": list(u.watches),
                    "link": u.link,
                }
                for u in unhandled
            ],
            "link": link,
        },
        mentions=tuple(mentions),
    )


def payload(facts: ReminderFacts, *, days_left: int | None) -> dict[str, Any]:
    """The JSON body a webhook receives."""
    body: dict[str, Any] = {
        "id": facts.reminder_uid,
        "type": f"rule_change.{facts.kind}",
        "kind": facts.kind,
        "days_left": days_left,
        "lead_days": facts.lead_days,
        "due_at": facts.due_at.isoformat(),
        "rule": {"name": facts.rule_name, "key": facts.rule_key, "platform": facts.platform},
        "change": {
            "uid": facts.change_uid,
            "kind": facts.change_kind,
            "title": facts.title,
            "summary": facts.summary,
            "announced_on": _iso(facts.announced_on),
            "effective_on": _iso(facts.effective_on),
            "effective_at": facts.effective_at.strftime("%H:%M") if facts.effective_at else None,
            "tentative": facts.tentative,
            "status": facts.status,
            "revision": facts.revision,
            "postponed_from": _iso(facts.postponed_from),
        },
        "sources": [
            {"title": s.title, "url": s.url, "published_at": _iso(s.published_at)}
            for s in facts.sources
        ],
        "link": facts.link,
    }
    if facts.kind == "changed":
        # The context was read from JSON in the store, so it holds JSON types only; copied
        # so that the body does not share it with ``facts``.
        body["changed"] = {
            key: copy.deepcopy(value) for key, value in facts.context.items() if key != "mention"
        }
    # Every value above is already a JSON type (dates as ISO strings), exactly as it will
    # be sent: no serialization round trip is needed to make it so.
    return body


def _headline(facts: ReminderFacts, days_left: int | None) -> str:
    if facts.kind == "announced":
        return "【新公示】"
    if facts.kind == "test":
        return "【测试】"
    if facts.kind == "changed":
        return "【已撤回】" if facts.context.get("withdrawn") else "【生效日期变更】"
    if days_left is None or days_left > 0:
        return f"【{days_left}天后生效】"
    return "【今日生效】"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates are package data and do not change while the process runs; with
        # auto_reload every get_template stats the file (bench/dispatch.py: two stat calls
        # per message were a tenth of the dispatcher's store-side time).
        auto_reload=False,
    )


@cache
def _digest_templates() -> tuple[Template, Template]:
    env = _environment()
    return env.get_template("digest.txt.j2"), env.get_template("digest.html.j2")


@cache
def _templates() -> tuple[Template, Template]:
    """The text and HTML templates, loaded once."""
    env = _environment()
    return env.get_template("reminder.txt.j2"), env.get_template("reminder.html.j2")
