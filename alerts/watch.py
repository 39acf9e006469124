"""Which changes are watched, and where reminders about them go with which lead times.

Pure: a watch (from config.toml or the API) and the facts of a change in, a decision out.
A change is watched when it matches any of the watch's ``rules``, ``keywords`` or ``regex``;
``platforms`` narrows that, and a watch with only ``platforms`` takes everything on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from alerts.config import Watch
from alerts.extract.platforms import canonical_platform
from alerts.extract.rules import canonical_rule

if TYPE_CHECKING:
    from store.models import Rule, RuleChange


@dataclass(frozen=True)
class ChangeFacts:
    """What a watch looks at in a change."""

    rule_key: str
    rule_name: str
    platform: str | None
    title: str = ""
    summary: str = ""
    effective_on: date | None = None


def facts_of(change: RuleChange, rule: Rule) -> ChangeFacts:
    """What a watch looks at, from a stored change and its rule."""
    return ChangeFacts(
        rule_key=rule.key,
        rule_name=rule.name,
        platform=rule.platform,
        title=change.title,
        summary=change.summary,
        effective_on=change.effective_on,
    )


@dataclass(frozen=True)
class Route:
    """Reminders about a change go to ``channel``, this many days before it takes effect."""

    channel: str
    lead_days: frozenset[int]
    watches: tuple[str, ...]


def matches(watch: Watch, change: ChangeFacts) -> bool:
    """Whether ``watch`` covers ``change``."""
    if watch.since is not None and (
        change.effective_on is None or change.effective_on < watch.since
    ):
        return False
    platform = canonical_platform(change.platform) or change.platform
    if watch.platforms and platform not in _platforms(watch.platforms):
        return False
    if not (watch.rules or watch.keywords or watch.regex):
        return bool(watch.platforms)
    text = f"{change.rule_key}\n{change.rule_name}\n{change.title}\n{change.summary}"
    return (
        any(_names_rule(entry, change) for entry in watch.rules)
        or any(keyword in text for keyword in watch.keywords)
        or any(pattern.search(text) for pattern in watch.patterns())
    )


def routes(
    watches: Iterable[Watch], change: ChangeFacts, *, default_lead_days: Sequence[int]
) -> list[Route]:
    """The channels that hear about ``change``, each once, with the union of lead days of the
    watches that send it there."""
    found: dict[str, tuple[set[int], list[str]]] = {}
    for watch in watches:
        if not matches(watch, change):
            continue
        lead = default_lead_days if watch.lead_days is None else watch.lead_days
        for channel in watch.channels:
            days, names = found.setdefault(channel, (set(), []))
            days.update(lead)
            names.append(watch.name)
    return [
        Route(channel=channel, lead_days=frozenset(days), watches=tuple(names))
        for channel, (days, names) in sorted(found.items())
    ]


def _names_rule(entry: str, change: ChangeFacts) -> bool:
    if entry in (change.rule_key, change.rule_name):
        return True
    # "商家发货行为管理规范" in a watch names 1688's rule when the change is on 1688.
    return canonical_rule(entry, change.platform)[1] == change.rule_key


def _platforms(names: Iterable[str]) -> set[str | None]:
    # Any spelling a user writes (抖店, Douyin, 天猫商城) matches the platform extraction found.
    return {canonical_platform(name) or name for name in names}
