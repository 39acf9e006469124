"""The values extraction works with: a notice as read, and the changes found in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum


class ChangeKind(StrEnum):
    """What a notice says happens to a rule."""

    consultation = "consultation"  # 征求意见 / 征集意见
    new = "new"  # 制定 / 发布 / 出台
    amendment = "amendment"  # 变更 / 调整 / 更新 / 修订 / 升级
    repeal = "repeal"  # 废止 / 下线


@dataclass(frozen=True)
class Notice:
    """One announcement or news item as it was read, before interpretation.

    ``published_at`` is a datetime (aware or naive, as given), a bare date, or None when the
    source does not say. Relative dates (今日, 3月18日 without a year) are read against the
    calendar date of ``published_at`` as written, without converting time zones.
    """

    title: str
    text: str
    published_at: datetime | date | None = None
    url: str | None = None
    id: str | None = None

    @property
    def published_on(self) -> date | None:
        if isinstance(self.published_at, datetime):
            return self.published_at.date()
        return self.published_at


@dataclass(frozen=True)
class ChangeCandidate:
    """A rule change read out of one notice; the timeline decides whether it is new."""

    rule: str | None  # the name as written, without 《》 or spaces; None when the text names none
    rule_key: str  # canonical: platform prefix added; for an unnamed rule, the headline's subject
    platform: str | None
    kind: ChangeKind
    announced_on: date | None = None  # 公示
    effective_on: date | None = None  # 生效
    effective_at: time | None = None  # time of day of 生效, when given
    tentative: bool = False  # 预计 / 拟 / 计划
    postponed_from: date | None = None  # the effective date this notice moves away from

    def as_json(self) -> dict[str, object]:
        """The JSON printed by ``rulewatch extract``: dates as YYYY-MM-DD, null if unknown."""
        return {
            "rule": self.rule,
            "rule_key": self.rule_key,
            "platform": self.platform,
            "kind": self.kind.value,
            "announced_on": _iso(self.announced_on),
            "effective_on": _iso(self.effective_on),
            "effective_at": self.effective_at.strftime("%H:%M") if self.effective_at else None,
            "tentative": self.tentative,
            "postponed_from": _iso(self.postponed_from),
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
