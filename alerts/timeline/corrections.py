"""Corrections people make to the timeline: edit a change, merge two changes that are one,
split a wrongly joined source off, delete a change that was never one.

Each correction is a revision kept with who made it, when and why (store/revisions.py), in
the same transaction as the correction. A corrected date raises the change's revision and
records the date it moved from, as a postponement does, so the planner cancels the leads for
the old date, plans new ones and tells each channel once (``changed``). The corrected change
is dated by the correction: a notice published before it cannot move the dates back.

Beside alerts/timeline/ingest.py, the only code that writes changes. The caller commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts import clock
from alerts.errors import Refused
from alerts.extract.model import ChangeCandidate, ChangeKind
from alerts.extract.model import Notice as NoticeText
from alerts.extract.rules import canonical_rule
from alerts.timeline.ingest import (
    EARLIEST,
    LATEST,
    changes_in,
    index_change,
    known_states,
    rule_of,
    stored_fields,
    unused_uid,
)
from alerts.timeline.place import fresh_state
from store import audit, handled, queries, revisions
from store.models import ChangeStatus, Rule, RuleChange

# What an edit may set. The rest of a change (its uid, sources, revision) is the timeline's.
EDITABLE = ("announced_on", "effective_on", "effective_at", "tentative", "rule", "platform")
_REASON_MAX = 500


@dataclass(frozen=True)
class Split:
    """The change a source was split off into, and what the person should check."""

    uid: str
    check: str | None  # set when the old change's dates came from the split-off source


def correct(
    session: Session,
    actor: str,
    action: str,
    uid: str,
    reason: str,
    *,
    values: Mapping[str, object] | None = None,
    other: str | None = None,
    notice: int | None = None,
    tz: ZoneInfo | None = None,
    seen: str | None = None,
) -> Any:
    """One correction of the change ``uid`` by ``actor``: ``action`` is edit (``values``),
    merge (``other`` into it), split (source ``notice`` off) or delete. Committed together
    with its revision and its audit entry; what the correction returns. The API's, the
    page's and the CLI's way in."""
    now = clock.now()
    detail: dict[str, Any] = {"reason": reason}
    write: Callable[[], Any]
    if action == "edit":
        detail["values"] = dict(values or {})
        write = partial(edit_change, session, uid=uid, values=values or {}, seen=seen)
    elif action == "merge":
        detail["other"] = other
        write = partial(merge_changes, session, keep=uid, drop=other or "")
    elif action == "split":
        detail["notice"] = notice
        write = partial(
            split_source, session, uid=uid, notice_id=notice or 0, tz=tz or ZoneInfo("UTC")
        )
    elif action == "delete":
        write = partial(delete_change, session, uid=uid)
    else:
        raise ValueError(f"unknown correction {action!r}")
    return audit.logged(
        session,
        actor=actor,
        action=f"change.{action}",
        target=uid,
        detail=detail,
        write=partial(write, actor=actor, reason=reason, now=now),
        now=now,
    )


def edit_change(
    session: Session,
    *,
    uid: str,
    values: Mapping[str, object],
    actor: str,
    reason: str,
    now: datetime,
    seen: str | None = None,
) -> RuleChange | None:
    """Set the fields of ``values`` (names of :data:`EDITABLE`) on the change ``uid``; the
    change, or None when every value was already so (nothing is recorded then). ``seen`` is
    the change's :func:`version` as the editor saw it: a change corrected or moved since is
    refused, so a stale form cannot undo someone else's correction.

    Raises Refused: no such change (404), a merged or deleted change, or one updated since
    ``seen`` (409), an unknown field, a date outside 1970–2199, 生效 before 公示, an empty
    reason (422).
    """
    reason = _reason(reason)
    change, rule = _active(session, uid)
    if seen is not None and version(change) != seen:
        raise Refused(
            "这项变更在你打开页面之后被更新过，请刷新页面后再更正（changed since you opened it）",
            status=409,
        )
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise Refused(
            f"不能更正的字段：{', '.join(unknown)}（fields that can be set: "
            f"{', '.join(EDITABLE)}）",
            status=422,
        )
    before: dict[str, object] = {
        "announced_on": change.announced_on,
        "effective_on": change.effective_on,
        "effective_at": change.effective_at,
        "tentative": change.tentative,
        "rule": rule.name,
        "platform": rule.platform,
    }
    after = before | dict(values)
    _check_dates(after["announced_on"], after["effective_on"])
    columns: dict[str, object] = {
        key: after[key] for key in ("announced_on", "effective_on", "effective_at", "tentative")
    }
    if (after["rule"], after["platform"]) != (rule.name, rule.platform):
        # Only a rule or platform written otherwise is looked up: a rule keyed otherwise than
        # its name reads today (a headline's subject, an older key) stays where it is.
        target = _rule_named(session, after["rule"], after["platform"])
        if target.key == rule.key:
            # The same rule however it was spelt (Taobao, 淘宝网): nothing to record.
            after["rule"], after["platform"] = rule.name, rule.platform
        else:
            after["rule"], after["platform"] = target.name, target.platform
            columns |= {"rule_id": target.id, "platform": target.platform}
    changed = {key: [before[key], after[key]] for key in EDITABLE if before[key] != after[key]}
    if not changed:
        return None
    if "effective_on" in changed:
        # Told to channels and shown as a move from the last date they were given.
        moved_from = before["effective_on"] or change.postponed_from
        columns |= {"revision": change.revision + 1, "postponed_from": moved_from}
    if "effective_on" in changed or "effective_at" in changed:
        # A notice published before this correction must not put the old date back.
        columns["dated_by"] = now
    queries.update_change(session, change, columns, now=now)
    index_change(session, change)
    _revised(session, change, "edit", {"changed": changed}, actor=actor, reason=reason, now=now)
    return change


def version(change: RuleChange) -> str:
    """A digest of what an edit may change and of what moves a change: it differs once the
    change was corrected, moved, merged or deleted."""
    fields = [
        change.announced_on,
        change.effective_on,
        change.effective_at,
        change.tentative,
        change.rule_id,
        change.revision,
        change.status,
    ]
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:16]


def _rule_named(session: Session, rule: object, platform: object) -> Rule:
    """The stored rule of this name and platform, added if new."""
    name = str(rule or "").strip()
    if not name:
        raise Refused("规则名称不能为空（rule must not be empty）", status=422, field="rule")
    name, key, canonical = canonical_rule(name, _text(platform))
    if len(key) > queries.KEY_LENGTH:
        raise Refused(
            f"规则名称过长（rule key longer than {queries.KEY_LENGTH})", status=422, field="rule"
        )
    return queries.get_or_add_rule(session, key=key, name=name, platform=canonical)


def merge_changes(
    session: Session, *, keep: str, drop: str, actor: str, reason: str, now: datetime
) -> RuleChange:
    """Make the change ``drop`` part of ``keep``: its sources become ``keep``'s (and so do
    later notices about it), a 公示 date or a time of day ``keep`` lacks is taken from it,
    and it leaves the timeline and the feed (status ``merged``), its pending reminders
    cancelled without a message. The kept change.

    Raises Refused: no such change (404), one of them merged or deleted, or ``keep`` without
    the 生效 date ``drop`` has (409: merge the other way), the same change twice or an
    empty reason (422).
    """
    reason = _reason(reason)
    if keep == drop:
        raise Refused(
            "不能把一项变更合并到它自己（keep and drop are the same change）",
            status=422,
            field="other",
        )
    kept, _ = _active(session, keep)
    dropped, _ = _active(session, drop)
    if kept.effective_on is None and dropped.effective_on is not None:
        # Its channels heard of the dated one; the dateless one would be news to them again.
        raise Refused(
            f"变更 {keep} 没有生效日期，而 {drop} 有：请把这一项并入有日期的那一项"
            "（merge the dateless change into the dated one）",
            status=409,
        )
    queries.link_notices(session, from_change=_id(dropped), to_change=_id(kept))
    # What the team marked on the copy they saw holds for the change it is part of.
    handled.move_marks(session, from_change=_id(dropped), to_change=_id(kept))
    filled: dict[str, object] = {}
    if kept.announced_on is None and dropped.announced_on is not None:
        filled["announced_on"] = dropped.announced_on
    same_day = kept.effective_on == dropped.effective_on
    if same_day and kept.effective_at is None and dropped.effective_at is not None:
        filled["effective_at"] = dropped.effective_at
    queries.update_change(session, kept, filled, now=now)
    index_change(session, kept)
    queries.update_change(
        session,
        dropped,
        {
            "status": ChangeStatus.MERGED,
            "revision": dropped.revision + 1,
            "merged_into_id": kept.id,
        },
        now=now,
    )
    _revised(
        session,
        kept,
        "merge",
        {"merged": drop, "filled": filled},
        actor=actor,
        reason=reason,
        now=now,
    )
    _revised(session, dropped, "merged", {"into": keep}, actor=actor, reason=reason, now=now)
    return kept


def split_source(
    session: Session,
    *,
    uid: str,
    notice_id: int,
    actor: str,
    reason: str,
    now: datetime,
    tz: ZoneInfo,
) -> Split:
    """Take the source notice ``notice_id`` off the change ``uid`` and make it a change of
    its own, with the dates read from it again (none, when it gives none for that rule).

    The old change keeps its dates: when they came from that notice, the answer says to
    check them. Raises Refused: no such change or source (404), a merged or deleted change,
    or a change with no other source (409), an empty reason (422).
    """
    reason = _reason(reason)
    change, rule = _active(session, uid)
    notices = queries.notices_of_change(session, change_id=_id(change))
    notice = next((n for n in notices if n.id == notice_id), None)
    if notice is None:
        raise Refused(f"公告 {notice_id} 不是这项变更的来源（no such source）", status=404)
    if len(notices) < 2:
        raise Refused(
            "这是这项变更唯一的来源，不能拆分；误读的变更可以删除（the only source: delete the "
            "change instead）",
            status=409,
        )
    queries.unlink_notice(session, change_id=_id(change), notice_id=notice_id)
    published_at = notice.published_at.astimezone(tz) if notice.published_at else None
    read = changes_in(
        NoticeText(title=notice.title, text=notice.text, published_at=published_at, url=notice.url)
    )
    candidate = _for_rule(read, rule, kind=ChangeKind(change.kind))
    target = rule_of(session, candidate)
    known = known_states(session, rule_id=_id(target), tz=tz)
    state = fresh_state(candidate, candidate.rule_key, published_at, known)
    state = unused_uid(session, state, candidate, published_at)
    new = queries.save_change(
        session,
        rule=target,
        fields=stored_fields(state),
        title=notice.title,
        summary=notice.text[:2000],
        notice=notice,
    )
    queries.update_change(session, change, {}, now=now)  # the feed shows one source less
    index_change(session, change)
    index_change(session, new)
    _revised(
        session,
        change,
        "split",
        {"notice": notice.title, "to": new.uid},
        actor=actor,
        reason=reason,
        now=now,
    )
    _revised(
        session,
        new,
        "split",
        {"notice": notice.title, "from": uid},
        actor=actor,
        reason=reason,
        now=now,
    )
    dated_by_it = change.dated_by is not None and change.dated_by == notice.published_at
    check = "原变更的日期可能来自拆走的这篇公告，请核对并更正。" if dated_by_it else None
    return Split(uid=new.uid, check=check)


def delete_change(
    session: Session, *, uid: str, actor: str, reason: str, now: datetime
) -> RuleChange | None:
    """Mark the change ``uid`` deleted: it was never a change (a misreading). It leaves the
    timeline and the feed, its pending reminders are cancelled without a message, and its
    page keeps its history. None when it was deleted already.

    Raises Refused: no such change (404), a merged change (409), an empty reason (422).
    """
    reason = _reason(reason)
    found = queries.get_change(session, uid=uid)
    if found is None:
        raise Refused(f"没有 uid 为 {uid!r} 的变更（no such change）", status=404)
    change, _ = found
    if change.status == ChangeStatus.DELETED:
        return None
    if change.status == ChangeStatus.MERGED:
        raise Refused("这项变更已合并到另一项，不能删除（it was merged）", status=409)
    queries.update_change(
        session, change, {"status": ChangeStatus.DELETED, "revision": change.revision + 1}, now=now
    )
    _revised(session, change, "delete", {}, actor=actor, reason=reason, now=now)
    return change


def _revised(
    session: Session,
    change: RuleChange,
    action: str,
    detail: dict[str, Any],
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    revisions.record(
        session,
        change_id=_id(change),
        actor=actor,
        action=action,
        reason=reason,
        detail=detail,
        now=now,
    )


def _active(session: Session, uid: str) -> tuple[RuleChange, Rule]:
    # Locked until the correction commits (on PostgreSQL; SQLite writes one at a time), so
    # two corrections at once are made one after the other, each on what the other left.
    found = queries.get_change(session, uid=uid, lock=True)
    if found is None:
        raise Refused(f"没有 uid 为 {uid!r} 的变更（no such change）", status=404)
    change, rule = found
    if change.status in (ChangeStatus.MERGED, ChangeStatus.DELETED):
        said = "合并到另一项" if change.status == ChangeStatus.MERGED else "删除"
        raise Refused(f"变更 {uid} 已{said}，不能再更正（it is {change.status}）", status=409)
    return change, rule


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise Refused("请写明更正的原因（a reason is required）", status=422, field="reason")
    if len(reason) > _REASON_MAX:
        raise Refused(f"原因最多 {_REASON_MAX} 字（reason too long）", status=422, field="reason")
    return reason


def _check_dates(announced_on: object, effective_on: object) -> None:
    for field, label, value in (
        ("announced_on", "公示日期", announced_on),
        ("effective_on", "生效日期", effective_on),
    ):
        if value is not None and not (isinstance(value, date) and EARLIEST <= value <= LATEST):
            raise Refused(
                f"{label} {value} 不在 1970–2199 年之间（date out of range）",
                status=422,
                field=field,
            )
    dated = isinstance(announced_on, date) and isinstance(effective_on, date)
    if dated and effective_on < announced_on:  # type: ignore[operator]
        raise Refused(
            f"生效日期 {effective_on} 早于公示日期 {announced_on}（effective is before announced）",
            status=422,
            field="effective_on",
        )


def _for_rule(read: list[ChangeCandidate], rule: Rule, *, kind: ChangeKind) -> ChangeCandidate:
    """What the split-off notice says of the change's rule: its own reading for that rule,
    else its only reading, else the rule undated."""
    same = [candidate for candidate in read if candidate.rule_key == rule.key]
    if same:
        return same[0]
    if len(read) == 1:
        return read[0]
    return ChangeCandidate(
        rule=rule.name,
        rule_key=rule.key,
        platform=rule.platform,
        kind=kind,
        announced_on=None,
        effective_on=None,
    )


def _text(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


def _id(row: RuleChange | Rule) -> int:
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} was not flushed")
    return row.id
