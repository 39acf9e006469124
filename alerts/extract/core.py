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
from dataclasses import replace
from datetime import date, timedelta

from alerts.extract.clauses import Sentences
from alerts.extract.cues import NoticeDays, Reading, Role, notice_periods, read_roles, signature
from alerts.extract.dates import DateMention, TextDates, arabize, headline_year
from alerts.extract.kinds import (
    NameLists,
    TextKinds,
    is_changed,
    kind_in,
    kind_of,
    left_alone,
    says_change,
)
from alerts.extract.model import ChangeCandidate, ChangeKind, Notice
from alerts.extract.normalize import from_headline, normalize, rejoin_lines, strip_noise
from alerts.extract.platforms import leading_platform, most_named, platform_near
from alerts.extract.rules import Rule, find_rules, row_rule_name, rule_key, subject_of
from alerts.extract.tables import Row, read_tables

__all__ = ["extract", "unplaced_days"]

# "This change will go into effect on X", "上述调整将于X生效": a sentence that names no rule
# but points back at what the paragraph before it introduced, every rule of it.
_ANAPHOR = re.compile(
    r"\s*(?:(?:此次|本次|上述|以上|这些|该等)(?:规则)?(?:变更|调整|修订|更新|变化|改动|规则)"
    r"|(?:This|These|The|Both|All\s+(?:of\s+)?(?:these|the))\s+(?:above\s+)?"
    r"(?:changes?|updates?|policies|documents))",
    re.IGNORECASE,
)
_RESPECTIVELY = re.compile(r"分别|各自|respectively", re.IGNORECASE)
_LIST_GAP_CHARS = frozenset(' \t\n、/&和及与以或》《「」“”"')


def _read(notice: Notice) -> tuple[str, int]:
    """The notice as one normalized text (headline, a line break, the text) and where the
    headline ends."""
    headline = normalize(strip_noise(notice.title or ""))
    title = arabize(headline)
    text = arabize(rejoin_lines(from_headline(headline, normalize(strip_noise(notice.text or "")))))
    return f"{title}\n{text}", len(title)


def unplaced_days(notice: Notice) -> list[str]:
    """The days ``notice`` names that cannot be placed in a year (12月15日 in a text with no
    year and no publish time), as written after normalizing, each once: the dates its
    changes are left without. Pure and total, like ``extract``."""
    doc, title_end = _read(notice)
    headline = headline_year(doc[:title_end])
    dates = TextDates(doc)
    published = notice.published_on
    if published is None:
        signed = signature(doc, dates.resolved(None, headline))
        published = signed.on if signed is not None else None
    found: list[str] = []
    for start, end in dates.unplaced(published, headline):
        if doc[start:end] not in found:
            found.append(doc[start:end])
    return found


def extract(notice: Notice) -> list[ChangeCandidate]:
    """The rule changes ``notice`` announces: one candidate per distinct rule, in text order.

    Pure and total: any title and text give a (possibly empty) list, never an exception.
    Fields the text does not state are None (or False), never guessed.
    """
    doc, title_end = _read(notice)
    title = doc[:title_end]
    sentences = Sentences(doc)
    # "《X》本次未作修改", "the Y policy is not changing": named to say it stays as it is.
    rules = [r for r in find_rules(doc, title_end, sentences) if not left_alone(doc, r)]
    mentions = _dated(doc, notice.published_on, headline_year(title))
    rows = read_tables(doc)
    if rows:
        # A roundup table's rows are changes of their own; the rest of the text goes on as usual.
        in_rows = [_row_change(doc, row, mentions, title_end) for row in rows]
        spans = sorted((row.start, row.end) for row in rows)
        rules = [r for r in rules if not all(_in(spans, m.start) for m in r.mentions)]
        mentions = [m for m in mentions if not _in(spans, m.start)]
        # Rows without a 公示 column are dated by the notice's own ("Posted on: Dec 9, 2024").
        around = [r for r in read_roles(doc, mentions) if r.role is Role.announced]
        signed = signature(doc, mentions)
        posted = _best(around) or (Reading(signed, Role.announced) if signed else None)
        if posted is not None:
            in_rows = [
                c if c.announced_on else replace(c, announced_on=posted.mention.on) for c in in_rows
            ]
        # Beside a table, a rule with no date of its own is the roundup's heading, not a change.
        beside = _named(doc, title_end, sentences, rules, mentions) if rules else []
        return in_rows + [c for c in beside if c.effective_on or c.announced_on]
    if not rules:
        return _unnamed(doc, title_end, mentions, sentences)
    return _named(doc, title_end, sentences, rules, mentions)


def _dated(doc: str, published: date | None, headline: int | date | None) -> list[DateMention]:
    """The dates of ``doc`` (``find_dates``), read against the signature's day when the notice
    has no publish time. The scan is made once and is not kept: in a long text it is as big
    as the mentions."""
    dates = TextDates(doc)
    mentions = dates.resolved(published, headline)
    signed = signature(doc, mentions) if published is None else None
    if signed is not None:
        # With no publish time, the signature dates the notice: 今日 and 发布之日 are its day.
        mentions = dates.resolved(signed.on, headline)
    return mentions


def _named(
    doc: str, title_end: int, sentences: Sentences, rules: list[Rule], mentions: list[DateMention]
) -> list[ChangeCandidate]:
    """The changes of the rules a notice names, each with the dates said about it."""
    masked = _mask(doc, rules)
    # A rule named in the title is what the notice is about; one only the text names is kept
    # when the text says something happens to it, not when it is named in passing (与《B》一致)
    # — unless no rule at all is said to change.
    spans = NameLists(masked, sorted((m.start, m.end) for rule in rules for m in rule.mentions))
    rules = [rule for rule in rules if is_changed(masked, rule, title_end, spans)] or rules
    signed = signature(doc, mentions)
    readings = _rebase_relative(doc, read_roles(doc, mentions), signed, sentences)
    readings, of_items = _split_items(doc, title_end, rules, readings)
    periods = notice_periods(doc)
    owners = _Owners(doc, rules, sentences, title_end)
    said = owners.assign(readings)
    of_items += _paragraphs_of_their_own(doc, rules, said, title_end)
    if signed is not None and not any(r.mention is signed for r in readings):
        # A signature dates the whole notice: the 公示 of every rule that has no other.
        for readings_of_rule in said:
            if not any(r.role is Role.announced for r in readings_of_rule):
                readings_of_rule.append(Reading(signed, Role.announced, strong=False))
    _share_the_only_day(readings, said, rules)
    lengths: list[list[NoticeDays]] = [[] for _ in rules]
    # Without periods there is nothing to drop: the search of the whole text is skipped.
    for period in [] if periods and _DAY_TO_FOLLOW.search(doc) else periods:
        for index in owners.at(period.pos):
            lengths[index].append(period)
    kinds = TextKinds(masked, title_end)
    named = []
    for i, rule in enumerate(rules):
        kind = kind_of(masked, rule, title_end, kinds)
        hedged = _hedged(doc, rule, sentences)
        for same_rule, readings in _per_platform(doc, rule, said[i]):
            candidate = _candidate(same_rule, readings, lengths[i], kind)
            named.append(replace(candidate, tentative=True) if hedged else candidate)
    return named + of_items


# "Effective March 11, 2022, we are not accepting …" opening a paragraph of its own.
_OWN_OPENING = re.compile(
    r"[ \t]*(?:Effective|Starting|Beginning|As of)\s*(?:on|from)?\s*$", re.IGNORECASE
)
_OWN_SUBJECT = re.compile(r",?\s*(?:we|sellers?|you|Amazon|TikTok Shop|Shopee|Lazada)\b")


def _paragraphs_of_their_own(
    doc: str, rules: list[Rule], said: list[list[Reading]], title_end: int
) -> list[ChangeCandidate]:
    """The changes of English paragraphs that name no rule and open with their own day and
    subject ("Effective March 11, 2022, we are not accepting …") after rules that already
    have their days: such a paragraph is a change of its own, not a later day of those rules.
    ``said`` loses those readings."""
    named_at = sorted(m.start for rule in rules for m in rule.mentions)
    found: list[ChangeCandidate] = []
    for index, readings in enumerate(said):
        for reading in list(readings):
            mention = reading.mention
            if reading.role is not Role.effective or mention.start < title_end:
                continue
            start = doc.rfind("\n", 0, mention.start) + 1
            end = doc.find("\n", mention.end)
            end = len(doc) if end < 0 else end
            if not (
                _OWN_OPENING.fullmatch(doc, start, mention.start)
                and _OWN_SUBJECT.match(doc, mention.end)
            ):
                continue
            if any(start <= at < end for at in named_at):
                continue
            others = [
                r
                for r in readings
                if r.role is Role.effective
                and r.mention.on != mention.on
                and r.mention.start < start
            ]
            if not others:
                continue
            readings.remove(reading)
            if not any(c.effective_on == mention.on for c in found):
                # The subject is what follows the day: "we are not accepting registrations …".
                subject = doc[mention.end : end].lstrip(" ,")
                found += _about(doc[start:end], subject, [reading], rules[index].platform)
    return found


# "在天猫，此条规则将于1月3日生效"、"在淘宝将于6月1日起生效": where the day applies.
_ON_PLATFORM_REACH = 24


def _per_platform(
    doc: str, rule: Rule, readings: list[Reading]
) -> list[tuple[Rule, list[Reading]]]:
    """``rule`` with its readings, or, when its effective days are said for two or more
    platforms apiece (在淘宝…X生效，在天猫…Y生效), one copy of it per platform with that
    platform's days and the other readings."""
    on: dict[str, list[Reading]] = {}
    for reading in readings:
        if reading.role is not Role.effective:
            continue
        left = max(0, reading.mention.start - _ON_PLATFORM_REACH)
        at = doc.rfind("在", left, reading.mention.start)
        if at < 0 or any(mark in doc[at : reading.mention.start] for mark in "。；;\n"):
            continue
        platform, _ = leading_platform(doc[at + 1 : reading.mention.start].lstrip())
        if platform is not None:
            on.setdefault(platform, []).append(reading)
    if len(on) < 2:
        return [(rule, readings)]
    shared = [r for r in readings if r.role is not Role.effective]
    _, prefix = leading_platform(rule.name)
    bare = rule.name[len(prefix) :].lstrip() or rule.name
    return [
        (
            replace(
                rule,
                name=f"{platform}{bare}" if prefix else rule.name,
                key=rule_key(bare, platform),
                platform=platform,
            ),
            [*days, *shared],
        )
        for platform, days in on.items()
    ]


# "淘宝网拟对《X》进行变更": the platform only proposes the change, so its date is expected.
_HEDGE = re.compile(
    # The lookahead (the first characters of the branches) makes most positions fail at once.
    r"(?=[拟计pi])(?:(?<![虚模])拟(?:对|在|将|于|修订|修改|调整|变更|升级|更新|新增|下线|废止|制定|出台|上线)"
    r"|计划(?:对|于|在|将)|\b(?:plans?|intends?|proposes?|is\s+expected)\s+to\b)"
)


# "公示期满后的生效时间另行通知": the 公示 period's end says nothing of when the change applies.
_DAY_TO_FOLLOW = re.compile(
    # The lookahead (the first characters of the branches) makes most positions fail at once.
    r"(?=[生实施另es])(?:(?:生效|实施|施行)(?:时间|日期)?(?:将)?另行(?:通知|公告|公布|告知)"
    r"|另行(?:通知|公告|公布)(?:生效|实施|施行)"
    r"|(?:effective|start)\s+date\s+will\s+be\s+(?:announced|communicated|shared))",
    re.IGNORECASE,
)


def _hedged(doc: str, rule: Rule, sentences: Sentences) -> bool:
    """Whether a sentence naming ``rule`` says the change is only proposed (拟对…进行调整)."""
    for mention in rule.mentions:
        start = sentences.start(mention.start)
        end = sentences.end(mention.start) or len(doc)
        if _HEDGE.search(doc, start, end):
            return True
    return False


# A numbered item of a list: "6. 1688公告称…", "2、…", "③…" (not a section number "1.1.").
_ITEM = re.compile(
    r"(?m)^[ \t]*(?:\d{1,2}\s*[.、)）](?![\d.])|[一二三四五六七八九十]{1,2}、|[①-⑳])"
)
_FUTURE = re.compile(r"(?:将|拟|计划|预计)(?:于|在|自|从)?\s*$")


def _split_items(
    doc: str, title_end: int, rules: list[Rule], readings: list[Reading]
) -> tuple[list[Reading], list[ChangeCandidate]]:
    """Readings of list items that are news of their own, and the changes those items give.

    An item of a numbered list that names no rule but its own platform or change ("7. 1688.com
    将于2021年1月26日起对…作特殊要求") is a change of its own, not a date of a rule in another
    item: its dates stay in it. Only what it says with a verb, or says will happen, counts.
    """
    starts = [m.start() for m in _ITEM.finditer(doc, title_end)]
    if len(starts) < 2:
        return readings, []
    mentions = sorted(m.start for rule in rules for m in rule.mentions)
    kept: list[Reading] = []
    items: dict[tuple[int, int], list[Reading]] = {}
    for reading in readings:
        pos = reading.mention.start
        index = bisect_right(starts, pos) - 1
        line_end = doc.find("\n", pos)
        if index < 0 or doc.find("\n", starts[index], pos) >= 0:
            kept.append(reading)  # not on the line of an item
            continue
        span = (starts[index], len(doc) if line_end < 0 else line_end)
        text = doc[span[0] : span[1]]
        own = bisect_right(mentions, span[1]) > bisect_right(mentions, span[0])
        if own or not (most_named(text) or says_change(text)):
            kept.append(reading)
            continue
        items.setdefault(span, []).append(reading)
    found: list[ChangeCandidate] = []
    for (start, end), said in items.items():
        counted = [
            r
            for r in said
            if r.strong or _FUTURE.search(doc, max(start, r.mention.start - 6), r.mention.start)
        ]
        found += _unnamed_in(doc[start:end], counted, platform_near(doc, start, start, title_end))
    return kept, found


def _in(spans: list[tuple[int, int]], pos: int) -> bool:
    """Whether ``pos`` falls in one of the sorted, disjoint ``spans`` (the rows of tables)."""
    index = bisect_right(spans, pos, key=lambda span: span[0]) - 1
    return index >= 0 and spans[index][0] <= pos <= spans[index][1]


def _row_change(doc: str, row: Row, mentions: list[DateMention], title_end: int) -> ChangeCandidate:
    """The change one row of a roundup table gives: its rule and the dates of its columns."""

    def inside(span: tuple[int, int] | None) -> list[DateMention]:
        return [m for m in mentions if span and span[0] <= m.start < span[1]]

    cell = doc[row.name[0] : row.name[1]] if row.name else ""
    name = row_rule_name(cell)
    platform = leading_platform(name)[0] or platform_near(doc, row.start, row.start, title_end)
    announced = inside(row.announced)
    # The 生效 cell may say more than a day: "原定8月1日生效，延期至9月1日".
    readings = read_roles(doc, inside(row.effective))
    moved = [r for r in readings if r.moved_to]
    old = [r for r in readings if r.role is Role.postponed_from]
    effective = inside(row.effective)
    on = moved[0].mention.on if moved else (effective[0].on if effective and not old else None)
    return ChangeCandidate(
        rule=name if _names_a_rule(name) else None,
        rule_key=rule_key(name or subject_of(cell) or "规则变更", platform),
        platform=platform,
        kind=kind_in(cell) or ChangeKind.amendment,
        announced_on=announced[0].on if announced else None,
        effective_on=on,
        effective_at=moved[0].mention.at if moved else (effective[0].at if effective else None),
        postponed_from=old[0].mention.on if old and moved else None,
    )


def _names_a_rule(name: str) -> bool:
    """Whether a table's name cell holds a rule's name, not a description of the change."""
    return bool(name) and bool(
        re.search(r"规|则|办法|标准|协议|政策|细则|须知|policy|rules?$", name, re.I)
    )


def _share_the_only_day(
    readings: list[Reading], said: list[list[Reading]], rules: list[Rule]
) -> None:
    """Give a rule said to change, but given no day of a role, the notice's day of that role
    when the notice has only one ("6月20日生效" in the headline of a revision that also adds
    two 实施细则): one notice, one change, one 生效. Not across platforms: a roundup's item
    about 快手 does not take the 公示 of its item about 淘宝."""
    for role in (Role.effective, Role.announced):
        having = [r for r in readings if r.role is role]
        best = _best(having)
        if best is None or len({r.mention.on for r in having}) != 1:
            continue
        owning = {
            rules[i].platform for i, own in enumerate(said) if any(r.role is role for r in own)
        }
        for rule, readings_of_rule in zip(rules, said, strict=True):
            # A change put off (原定于X… 暂缓实施) keeps no day rather than taking another's.
            put_off = any(r.role is Role.postponed_from for r in readings_of_rule)
            if put_off and role is Role.effective:
                continue
            if rule.platform in owning and not any(r.role is role for r in readings_of_rule):
                readings_of_rule.append(best)


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

    def __init__(self, doc: str, rules: list[Rule], sentences: Sentences, title_end: int) -> None:
        self._doc = doc
        self._title_end = title_end
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

    def _leads_on(self, pos: int) -> bool:
        """Whether the sentence at ``pos`` ends with a colon (spaces and breaks aside)."""
        end = (self._sentences.end(pos) or len(self._doc)) - 1
        while end > pos and self._doc[end].isspace():
            end -= 1
        return self._doc[end] in ":："

    def _members(self, k: int) -> set[int]:
        return self._in_group[self._group[k]]

    def _paragraph_of(self, k: int) -> set[int]:
        """The rules named in the paragraph of the ``k``-th mention, up to that mention."""
        start = self._doc.rfind("\n", 0, self._spans[k][0]) + 1
        rules: set[int] = set()
        while k >= 0 and self._spans[k][0] >= start:
            rules |= self._members(k)
            k -= 1
        return rules

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
        if prior >= 0:
            if _ANAPHOR.match(self._doc, self._sentences.start(pos)):
                return self._paragraph_of(prior)
            return self._members(prior)
        # A date before any rule is about every rule ("此次规则变更于X公示"), unless its sentence
        # leads into the first with a colon ("The following change takes effect on X: …").
        if pos >= self._title_end and self._spans and self._leads_on(pos):
            return self._members(0)
        return self._everyone


def _best(readings: list[Reading]) -> Reading | None:
    if not readings:
        return None
    # Said with a verb beats a bare "X起"; a revision beats the rule's first publication (本规则
    # 于X发布，于Y修订); a written year beats an inferred one; then text order.
    return min(
        readings,
        key=lambda r: (not r.strong, not r.revised, not r.mention.explicit_year, r.mention.start),
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


_OF_PUBLICATION = re.compile(r"(?:发布|公布|颁布|印发|公告|公示)之日")
_SAME_DAY = re.compile(r"即日|今日|今天|immediate", re.IGNORECASE)


def _rebase_relative(
    doc: str, readings: list[Reading], signed: DateMention | None, sentences: Sentences
) -> list[Reading]:
    """Relative effective days read against the notice's own 发布 day rather than the page's.

    "自本公告发布之日起生效" is the day the notice was published: its 公示 or, failing that,
    its signature date. "于8月30日发布…，即日起生效" is that day too, when its sentence says so.
    """
    announced = [r for r in readings if r.role is Role.announced and not r.mention.relative]
    fixed: list[Reading] = []
    for reading in readings:
        mention = reading.mention
        word = doc[mention.start : mention.end]
        day: date | None = None
        if reading.role is Role.effective and mention.relative:
            if _OF_PUBLICATION.search(word):
                best = _best(announced)
                day = best.mention.on if best else (signed.on if signed else None)
            elif _SAME_DAY.search(word):
                sentence = sentences.index(mention.start)
                same = [r for r in announced if sentences.index(r.mention.start) == sentence]
                day = same[0].mention.on if same else None
        if day is not None and day != mention.on:
            reading = replace(reading, mention=replace(mention, on=day))
        fixed.append(reading)
    return fixed


def _unnamed(
    doc: str, title_end: int, mentions: list[DateMention], sentences: Sentences
) -> list[ChangeCandidate]:
    """The changes of a notice that names no rule ("自4月1日起，亚马逊将调整FBA配送费").

    Each distinct effective day is one change (a fee raised in two stages is two changes); the
    key is the platform and the headline's subject, so later notices about it join the change.
    A notice with no day at all is one undated change when it says which platform changes
    something ("拼多多对黑标商品订单征收技术服务费"), and none otherwise.
    """
    signed = signature(doc, mentions)
    readings = _rebase_relative(doc, read_roles(doc, mentions), signed, sentences)
    if signed is not None and not any(r.role is Role.announced for r in readings):
        readings.append(Reading(signed, Role.announced, strong=False))
    platform = platform_near(doc, 0, 0, title_end)
    found = _about(doc, doc[:title_end], readings, platform)
    if found or platform is None or not says_change(doc):
        return found
    # Known to be coming but not when: kept, so that the notice that dates it joins this one.
    return _about(doc, doc[:title_end], [], platform, undated=True)


def _unnamed_in(item: str, readings: list[Reading], platform: str | None) -> list[ChangeCandidate]:
    """The changes of one list item that names no rule, keyed by the item's own subject."""
    # The clause that says what changes names the subject ("1688月卡权益和退卡费门槛将做调整").
    clauses = [c for c in re.split(r"[，,。；;:：]", _ITEM.sub("", item)) if c.strip()] or [""]
    subject = next((c for c in clauses if says_change(c)), clauses[0])
    return _about(item, subject, readings, most_named(item) or platform)


def _about(
    text: str, subject: str, readings: list[Reading], platform: str | None, undated: bool = False
) -> list[ChangeCandidate]:
    key = rule_key(subject_of(subject) or "规则变更", platform)
    kind = kind_in(subject) or kind_in(text) or ChangeKind.amendment
    announced = _best([r for r in readings if r.role is Role.announced])
    effective = [r for r in readings if r.role is Role.effective]
    # A day said with a verb or label (生效时间为Y) outranks a bare "X起" of the same notice.
    effective = [r for r in effective if r.strong] or effective
    moved = [r for r in effective if r.moved_to]
    old = [r for r in readings if r.role is Role.postponed_from]
    groups: dict[date, list[Reading]] = {}
    for reading in moved or effective:
        groups.setdefault(reading.mention.on, []).append(reading)
    if not groups and not undated and (announced is None or not says_change(text)):
        return []
    base = Rule(name="", key=key, platform=platform)
    found = [
        _candidate(base, [*same, *([announced] if announced else []), *old], [], kind)
        for same in groups.values()
    ] or [_candidate(base, [announced] if announced else [], notice_periods(text), kind)]
    return [replace(candidate, rule=None) for candidate in found]
