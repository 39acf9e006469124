"""Which changes are watched: the one place that decides coverage, for reminders, the feed
and the pages alike, and where reminders go with which lead times.

A change is watched when it matches any of the watch's ``rules``, ``keywords`` or ``regex``;
``platforms`` narrows that, and a watch with only ``platforms`` takes everything on them.
All of it is pure (a watch and the facts of a change in, a decision out) but for
:func:`current_watches`, which reads the watches added through the API from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlmodel import Session

from alerts.config import Settings, Watch
from store import watches as stored_watches

# The extractor's platform and rule tables (tens of milliseconds of patterns to compile) are
# imported by the functions that match, so a command that only lists changes goes without.
if TYPE_CHECKING:
    from store.models import Rule, RuleChange

log = logging.getLogger(__name__)


def current_watches(session: Session, settings: Settings) -> list[Watch]:
    """The ``[[watch]]`` entries of config, then the watches added through the API.

    A stored watch that no longer validates (the config it relied on changed) is skipped
    with a warning rather than stopping the service.
    """
    watches = list(settings.watches)
    taken = {watch.name for watch in watches}
    for name, definition in stored_watches.list_watches(session):
        if name in taken:
            continue
        try:
            watches.append(Watch.model_validate(definition))
        except ValidationError as exc:
            log.warning("stored watch %s is not valid any more, skipped: %s", name, exc)
    return watches


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
    mention: tuple[str, ...] = ()  # who those watches ask to be @-mentioned


def matches(watch: Watch, change: ChangeFacts) -> bool:
    """Whether ``watch`` covers ``change``."""
    if watch.since is not None and (
        change.effective_on is None or change.effective_on < watch.since
    ):
        return False
    from alerts.extract.platforms import canonical_platform

    platform = canonical_platform(change.platform) or change.platform
    if watch.platforms and platform not in _platforms(tuple(watch.platforms)):
        return False
    if not (watch.rules or watch.keywords or watch.regex):
        return bool(watch.platforms)
    text = f"{change.rule_key}\n{change.rule_name}\n{change.title}\n{change.summary}"
    return (
        any(_names_rule(entry, change) for entry in watch.rules)
        or any(keyword in text for keyword in watch.keywords)
        or any(pattern.search(text) for pattern in watch.patterns())
    )


def covering(watches: Iterable[Watch], change: ChangeFacts) -> list[Watch]:
    """The watches that cover ``change``, in their order."""
    return [watch for watch in watches if matches(watch, change)]


def tags_of(watches: Iterable[Watch]) -> tuple[str, ...]:
    """The tags of ``watches``, each once, in the order they are first given."""
    return tuple(dict.fromkeys(tag for watch in watches for tag in watch.tags))


def routes(
    watches: Iterable[Watch], change: ChangeFacts, *, default_lead_days: Sequence[int]
) -> list[Route]:
    """The channels that hear about ``change``, each once, with the union of lead days of the
    watches that send it there."""
    found: dict[str, tuple[set[int], list[str], dict[str, None]]] = {}
    for watch in watches:
        if not matches(watch, change):
            continue
        lead = default_lead_days if watch.lead_days is None else watch.lead_days
        for channel in watch.channels:
            days, names, mention = found.setdefault(channel, (set(), [], {}))
            days.update(lead)
            names.append(watch.name)
            mention.update(dict.fromkeys(watch.mention))
    return [
        Route(
            channel=channel,
            lead_days=frozenset(days),
            watches=tuple(names),
            mention=tuple(mention),
        )
        for channel, (days, names, mention) in sorted(found.items())
    ]


def _names_rule(entry: str, change: ChangeFacts) -> bool:
    if entry in (change.rule_key, change.rule_name):
        return True
    from alerts.extract.rules import canonical_rule

    # "商家发货行为管理规范" in a watch names 1688's rule when the change is on 1688.
    return canonical_rule(entry, change.platform)[1] == change.rule_key


@lru_cache(maxsize=256)  # asked for each change a watch is matched with
def _platforms(names: tuple[str, ...]) -> frozenset[str | None]:
    from alerts.extract.platforms import canonical_platform

    # Any spelling a user writes (抖店, Douyin, 天猫商城) matches the platform extraction found.
    return frozenset(canonical_platform(name) or name for name in names)
