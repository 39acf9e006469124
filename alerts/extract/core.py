"""From one notice to its change candidates: find the rules, read the dates, give each rule
the dates said about it.

With one rule every date belongs to it. With several, a date belongs to the rule (or the list
of rules, 《A》和《B》) named last before it in its sentence, else first after it in its
sentence, else last before it in the text; a date before any rule (a headline date) belongs to
all of them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import date, timedelta

from alerts.extract.clauses import Sentences
from alerts.extract.cues import NoticeDays, Reading, Role, notice_periods, read_roles
from alerts.extract.dates import arabize, find_dates
from alerts.extract.kinds import NameLists, TextKinds, is_changed, kind_of
from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
from alerts.extract.normalize import normalize
from alerts.extract.rules import Rule, find_rules

__all__ = ["extract"]

_RESPECTIVELY = re.compile(r"分别|各自|respectively", re.IGNORECASE)
_LIST_GAP_CHARS = frozenset(' \t\n、/&和及与以或》《「」“”"')


def extract(notice: Notice) -> list[ChangeCandidate]:
    """The rule changes ``notice`` announces: one candidate per distinct rule, in text order.

    Pure and total: any title and text give a (possibly empty) list, never an exception.
    Fields the text does not state are None (or False), never guessed.
    """
    title = arabize(normalize(notice.title or ""))
    text = arabize(normalize(notice.text or ""))
    doc = f"{title}\n{text}"
    title_end = len(title)
    sentences = Sentences(doc)
    rules = find_rules(doc, title_end, sentences)
    if not rules:
        return []
    masked = _mask(doc, rules)
    # A rule named in the title is what the notice is about; one only the text names is kept
    # when the text says something happens to it, not when it is named in passing (与《B》一致)
    # — unless no rule at all is said to change.
    spans = NameLists(masked, sorted((m.start, m.end) for rule in rules for m in rule.mentions))
    rules = [rule for rule in rules if is_changed(masked, rule, title_end, spans)] or rules
    readings = read_roles(doc, find_dates(doc, notice.published_on))
    periods = notice_periods(doc)
    owners = _Owners(doc, rules, sentences)
    said = owners.assign(readings)
    lengths: list[list[NoticeDays]] = [[] for _ in rules]
    for period in periods:
        for index in owners.at(period.pos):
            lengths[index].append(period)
    kinds = TextKinds(masked, title_end)
    return [
        _candidate(rule, said[i], lengths[i], kind_of(masked, rule, title_end, kinds))
        for i, rule in enumerate(rules)
    ]


def _mask(doc: str, rules: list[Rule]) -> str:
    """``doc`` with every rule name blanked out, so the words inside names are not read."""
    # Joined from slices: a list of the characters of a long text costs about 80 bytes a
    # character (one str object each), 700 MB for 20 MB of Chinese.
    pieces = []
    pos = 0
    for start, end in sorted((m.start, m.end) for rule in rules for m in rule.mentions):
        if start > pos:
            pieces.append(doc[pos:start])
        if end > max(start, pos):
            pieces.append("□" * (end - max(start, pos)))
        pos = max(pos, end)
    pieces.append(doc[pos:])
    return "".join(pieces)


class _Owners:
    """Which rules a position of the text speaks about."""

    def __init__(self, doc: str, rules: list[Rule], sentences: Sentences) -> None:
        self._doc = doc
        self._sentences = sentences
        spans = sorted((m.start, m.end, i) for i, rule in enumerate(rules) for m in rule.mentions)
        self._spans = spans
        self._everyone = set(range(len(rules)))
        # Mentions joined only by list words (《A》、《B》和《C》) form one group.
        self._group: list[int] = []
        self._in_group: dict[int, set[int]] = {}
        self._first: dict[int, int] = {}  # where each rule is first named
        for k, (start, _, rule) in enumerate(spans):
            joined = k > 0 and all(ch in _LIST_GAP_CHARS for ch in doc[spans[k - 1][1] : start])
            group = self._group[-1] if joined else k
            self._group.append(group)
            self._in_group.setdefault(group, set()).add(rule)
            self._first.setdefault(rule, start)
        self._sentence_of = [sentences.index(start) for start, _, _ in spans]
        self._ends = [end for _, end, _ in spans]
        # What _respective works out once per sentence (and role and owners), not per reading:
        # filtering all readings for each one was quadratic in a long text.
        self._respectively: dict[int, bool] = {}
        self._by_sentence: dict[int, list[Reading]] | None = None
        self._peers: dict[tuple[int, Role, frozenset[int]], tuple[dict[Reading, int], list[int]]]
        self._peers = {}

    def _members(self, k: int) -> set[int]:
        return self._in_group[self._group[k]]

    def assign(self, readings: list[Reading]) -> list[list[Reading]]:
        """The readings said about each rule."""
        said: list[list[Reading]] = [[] for _ in self._everyone]
        for reading in readings:
            owners = self.at(reading.mention.start)
            respective = self._respective(reading, readings, owners)
            for index in owners if respective is None else (respective,):
                said[index].append(reading)
        return said

    def _respective(
        self, reading: Reading, readings: list[Reading], owners: set[int]
    ) -> int | None:
        """The one rule a date is for in "《A》和《B》分别于X和Y生效" (X for A, Y for B).

        ``readings`` are all the readings of the text, the same list at every call.
        """
        if len(owners) < 2:
            return None
        pos = reading.mention.start
        sentence = self._sentences.index(pos)
        respectively = self._respectively.get(sentence)
        if respectively is None:
            end = self._sentences.end(pos) or len(self._doc)
            found = _RESPECTIVELY.search(self._doc, self._sentences.start(pos), end)
            respectively = self._respectively[sentence] = found is not None
        if not respectively:
            return None
        key = (sentence, reading.role, frozenset(owners))
        if key not in self._peers:
            if self._by_sentence is None:
                self._by_sentence = {}
                for r in readings:
                    index = self._sentences.index(r.mention.start)
                    self._by_sentence.setdefault(index, []).append(r)
            peers = [
                r
                for r in self._by_sentence[sentence]
                if r.role is reading.role and self.at(r.mention.start) == owners
            ]
            order: dict[Reading, int] = {}
            for k, peer in enumerate(peers):
                order.setdefault(peer, k)  # as peers.index: the first equal one
            rules = sorted(owners, key=self._first.__getitem__) if len(peers) == len(owners) else []
            self._peers[key] = (order, rules)
        order, rules = self._peers[key]
        return rules[order[reading]] if rules else None

    def at(self, pos: int) -> set[int]:
        if len(self._everyone) == 1:
            return self._everyone
        sentence = self._sentences.index(pos)
        # Spans are in text order: the last one ending before pos, and the one after it.
        prior = bisect_right(self._ends, pos) - 1
        if prior >= 0 and self._sentence_of[prior] == sentence:
            return self._members(prior)
        following = prior + 1
        if following < len(self._spans) and self._sentence_of[following] == sentence:
            return self._members(following)
        return self._members(prior) if prior >= 0 else self._everyone


def _best(readings: list[Reading]) -> Reading | None:
    if not readings:
        return None
    # Said with a verb beats a bare "X起"; a written year beats an inferred one; then text order.
    return min(
        readings,
        key=lambda r: (not r.strong, not r.mention.explicit_year, r.mention.start),
    )


def _add_days(start: date, days: int, working: bool) -> date:
    if not working:
        return start + timedelta(days=days)
    day = start
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def _candidate(
    rule: Rule, readings: list[Reading], periods: list[NoticeDays], kind: ChangeKind
) -> ChangeCandidate:
    def having(role: Role, moved: bool | None = None) -> list[Reading]:
        return [r for r in readings if r.role is role and (moved is None or r.moved_to is moved)]

    announced = _best(having(Role.announced))
    old = having(Role.postponed_from)
    moved = _best(having(Role.effective, moved=True))
    plain = having(Role.effective, moved=False)
    effective = moved or _best(plain)
    postponed_from = old[0].mention.on if old else None
    if moved is not None and postponed_from is None:
        postponed_from = next(
            (r.mention.on for r in plain if r.mention.on != moved.mention.on), None
        )
    effective_on = effective.mention.on if effective else None
    if effective_on is None:
        effective_on = _after_notice(announced, having(Role.notice_ends), periods)
    if postponed_from == effective_on:
        postponed_from = None
    return ChangeCandidate(
        rule=rule.name,
        rule_key=rule.key,
        platform=rule.platform,
        kind=kind,
        announced_on=announced.mention.on if announced else None,
        effective_on=effective_on,
        effective_at=effective.mention.at if effective else None,
        # "预计9月23日生效" in the headline stays tentative when the text repeats the day plainly.
        tentative=effective is not None
        and any(
            r.tentative for r in having(Role.effective) if r.mention.on == effective.mention.on
        ),
        postponed_from=postponed_from,
    )


def _after_notice(
    announced: Reading | None, ends: list[Reading], periods: list[NoticeDays]
) -> date | None:
    """The effective day implied by the 公示 period, when no effective day is written.

    The 公示 period ends before the change takes effect: a period ending on Y takes effect on
    Y+1, and N days from an announced day A take effect on A+N (公示 3月18日, 7天 → 3月25日, as
    the platforms' own notices count).
    """
    if ends:
        return ends[0].mention.on + timedelta(days=1)
    if announced is not None and periods:
        return _add_days(announced.mention.on, periods[0].days, periods[0].working_days)
    return None
