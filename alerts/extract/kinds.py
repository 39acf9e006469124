"""What a notice says happens to a rule: consultation, new rule, amendment or repeal.

The verb nearest to the rule's name decides (标题 first, then the text); 发布/上线 only count when
no other verb is near, since "发布《X》更新调整通知" announces an amendment. A consultation word
(征求意见) in the title makes the whole notice a consultation. With no verb anywhere the
notice is read as an amendment, the most common case.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import NamedTuple

from alerts.extract.casing import for_lowered, lowered
from alerts.extract.model import ChangeKind
from alerts.extract.rules import Rule

__all__ = [
    "NameLists",
    "TextKinds",
    "is_changed",
    "kind_in",
    "kind_of",
    "left_alone",
    "says_change",
]

_I = re.IGNORECASE


def _words(first: str, words: str) -> re.Pattern[str]:
    """``words``, an alternation whose every branch starts with a character of ``first``.

    The lookahead makes most positions fail at once; without it the engine tries each branch
    at every position (these patterns search whole texts and titles).
    """
    return re.compile(f"(?=[{first}])(?:{words})", _I)


# Ordered by precedence: on a tie in distance the earlier entry wins.
_VERBS: list[tuple[ChangeKind, re.Pattern[str]]] = [
    (
        ChangeKind.consultation,
        _words(
            "征意公scdp",
            r"征求意见|征集意见|意见征集|征询意见|公开征求|征求.{0,8}意见|意见稿|"
            r"solicit\w*|consultation|draft for comments?|public comments?",
        ),
    ),
    (
        ChangeKind.repeal,
        _words(
            "废停不同下rad",
            r"废止|废除|停止施行|停止执行|停止适用|不再适用|不再执行|同时失效|下线|"
            r"repeal\w*|abolish\w*|revok\w*|rescind\w*|discontinu\w*|retir\w*",
        ),
    ),
    (
        ChangeKind.amendment,
        _words(
            "变调更修升改优完迭新删移arucmile",
            r"变更|调整|更新|修订|升级|修改|更改|优化|完善|改版|迭代|修正|新版|"
            r"amend\w*|revis\w*|updat\w*|adjust\w*|chang\w*|modif\w*|upgrad\w*|"
            r"increas\w*|clarif\w*|rais(?:e|es|ing)\b|reduc\w*|lower\w*|extend\w*|"
            r"删除|删去|移除",
        ),
    ),
    (
        ChangeKind.new,
        _words(
            "制出推颁印新起ilfn",
            r"制定|出台|推出|颁布|印发|新增|新建|新设|新规|起草|introduc\w*|launch\w*|formulat\w*"
            r"|\bnew\b",
        ),
    ),
]
_WEAK_NEW = _words("发上pri", r"发布|上线|publish\w*|releas\w*|issu\w*")
_WINDOW = 14
_STOP = re.compile(r"[。；;！？!?\n]")
_CLAUSE_STOP = re.compile(r"[，,。；;！？!?\n]")
_TAKES_EFFECT = _words("生施实执公te", r"生效|施行|实施|执行|公示|take[sn]? effect|effective")
_SUBJECT_WINDOW = 24
_SUBJECT_WINDOW_EN = 60  # English says in 60 letters what Chinese says in 24 characters
_LIST_GAP = re.compile(r"[\s、/&和及与以或》《「」“”\"]*")


class _Verbs(NamedTuple):
    """The verb patterns above, for a text as it is or (case-sensitive twins, see casing) for
    its lower-cased copy, where they reject a place by its first character: IGNORECASE let
    every English letter of the lookaheads through to the branches one by one."""

    ranked: list[tuple[ChangeKind, re.Pattern[str]]]
    weak_new: re.Pattern[str]
    takes_effect: re.Pattern[str]


_AS_IS = _Verbs(_VERBS, _WEAK_NEW, _TAKES_EFFECT)
_LOWER = _Verbs(
    [(kind, for_lowered(pattern)) for kind, pattern in _VERBS],
    for_lowered(_WEAK_NEW),
    for_lowered(_TAKES_EFFECT),
)


def _scan(text: str) -> tuple[str, _Verbs]:
    """What to search for verbs in ``text``: its lower-cased copy with the twins when that finds
    the same, at the same places; else the text and the patterns as they are."""
    low = lowered(text)
    return (text, _AS_IS) if low is None else (low, _LOWER)


class NameLists:
    """The lists of names (《A》、《B》和《C》) of a text, found once for all its rules.

    ``spans`` are all rule names of ``doc``, in order. Names that do not overlap (as
    ``find_rules`` gives them) form runs of neighbours joined by list words, and a name's list
    is its run: what ``_listed`` finds by walking all the names, which made ``is_changed``
    quadratic in their number. Overlapping names, or a name not in ``spans``, take that walk.
    """

    def __init__(self, doc: str, spans: list[tuple[int, int]]) -> None:
        self._doc = doc
        self._spans = spans
        # The text is_changed reads verbs in (the lower-cased copy when it can).
        self.scan = _scan(doc)
        count = len(spans)
        self._disjoint = all(start < end for start, end in spans) and all(
            spans[k - 1][1] <= spans[k][0] for k in range(1, count)
        )
        # joined[k]: names k-1 and k are neighbours in one list.
        joined = [False] * count
        if self._disjoint:
            for k in range(1, count):
                gap = _LIST_GAP.fullmatch(doc, spans[k - 1][1], spans[k][0])
                joined[k] = gap is not None
        self._first = list(range(count))
        self._last = list(range(count))
        for k in range(1, count):
            if joined[k]:
                self._first[k] = self._first[k - 1]
        for k in reversed(range(count - 1)):
            if joined[k + 1]:
                self._last[k] = self._last[k + 1]

    def bounds(self, start: int, end: int) -> tuple[int, int]:
        """The start and end of the list of names that the name at ``start:end`` is part of."""
        k = bisect_left(self._spans, (start, end))
        if not self._disjoint or k == len(self._spans) or self._spans[k] != (start, end):
            return _listed(self._doc, self._spans, start, end)
        return self._spans[self._first[k]][0], self._spans[self._last[k]][1]


def is_changed(doc: str, rule: Rule, title_end: int, spans: NameLists) -> bool:
    """Whether the text says something happens to ``rule`` (a verb in the clause of a mention),
    as opposed to naming it in passing (与《B》保持一致).

    ``spans`` holds all rule names of the text: a list (《A》和《B》将于…生效) is read as one
    name, so the verb after the list counts for each rule in it.
    """
    scan, verbs = spans.scan
    for mention in rule.mentions:
        if mention.start < title_end:
            return True
        first, last = spans.bounds(mention.start, mention.end)
        english = doc[last : last + 8].isascii()
        reach = _SUBJECT_WINDOW_EN if english else _SUBJECT_WINDOW
        left = max(title_end, first - reach)
        stops = list(_CLAUSE_STOP.finditer(doc, left, first))
        left = stops[-1].end() if stops else left
        right_stop = _CLAUSE_STOP.search(doc, last, last + reach)
        right = right_stop.start() if right_stop else last + reach
        windows = [scan[left:first], scan[last:right]]
        # A bullet or number is a few characters: looking no further back keeps this linear.
        head = doc.rfind("\n", max(0, first - 8), first) + 1
        if (
            (head or first <= 8)
            and _HEADING_START.fullmatch(doc, head, first)
            and _HEADING_COLON.match(doc, last)
        ):
            # "- FBA Storage Policy: … This change takes effect …": the item says what happens.
            line_end = doc.find("\n", last)
            windows.append(scan[last : len(doc) if line_end < 0 else line_end])
        for window in windows:
            if _kind_in(window, verbs) is not None or verbs.takes_effect.search(window):
                return True
    return False


# A name heading an item of a list: at the start of its line (after a bullet or a number),
# followed by a colon.
_HEADING_START = re.compile(r"[ \t]*(?:[-•*·]|\d{1,2}[.)、]|[①-⑳])?[ \t]*")
_HEADING_COLON = re.compile(r"[ \t]*[:：]")


def _listed(doc: str, spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """The start and end of the list of names that the name at ``start:end`` is part of."""
    for span_start, span_end in spans:
        if span_start >= end and _LIST_GAP.fullmatch(doc, end, span_start):
            end = span_end
    for span_start, span_end in reversed(spans):
        if span_end <= start and _LIST_GAP.fullmatch(doc, span_end, start):
            start = span_start
    return start, end


def _near(doc: str, verbs: _Verbs, start: int, end: int) -> tuple[ChangeKind, bool] | None:
    """The kind of the verb closest to ``doc[start:end]`` within its sentence, and whether the
    verb was a strong one (not 发布/上线). ``doc`` and ``verbs`` are as ``_scan`` gives them."""
    left = max(0, start - _WINDOW)
    stops = list(_STOP.finditer(doc, left, start))
    if stops:
        left = stops[-1].end()
    right_stop = _STOP.search(doc, end, end + _WINDOW)
    right = right_stop.start() if right_stop else min(len(doc), end + _WINDOW)
    best: tuple[int, int, ChangeKind] | None = None
    for rank, (kind, pattern) in enumerate(verbs.ranked):
        for match in pattern.finditer(doc, left, start):
            candidate = (start - match.end(), rank, kind)
            best = candidate if best is None or candidate < best else best
        for match in pattern.finditer(doc, end, right):
            candidate = (match.start() - end, rank, kind)
            best = candidate if best is None or candidate < best else best
    if best is not None:
        return best[2], True
    if verbs.weak_new.search(doc, left, start) or verbs.weak_new.search(doc, end, right):
        return ChangeKind.new, False
    return None


def says_change(text: str) -> bool:
    """Whether ``text`` has a change verb stronger than 发布/上线 (those also announce news)."""
    text, verbs = _scan(text)
    return any(pattern.search(text) for _, pattern in verbs.ranked)


def kind_in(text: str) -> ChangeKind | None:
    """The kind of the first-ranked change verb anywhere in ``text``, or None without one."""
    return _kind_in(*_scan(text))


def _kind_in(text: str, verbs: _Verbs) -> ChangeKind | None:
    """``kind_in`` of ``text`` as ``_scan`` gives it."""
    for kind, pattern in verbs.ranked:
        if pattern.search(text):
            return kind
    return ChangeKind.new if verbs.weak_new.search(text) else None


def kind_of(doc: str, rule: Rule, title_end: int, text: TextKinds | None = None) -> ChangeKind:
    """The kind of change ``doc`` announces for ``rule``.

    ``doc`` should have the rule names masked (see ``core``), so that 发布 in 商品发布规范 is no
    verb. ``text``, made once for ``doc``, keeps what is read the same for every rule.
    """
    text = text or TextKinds(doc, title_end)
    if text.consultation_title():
        return ChangeKind.consultation
    in_title = [m for m in rule.mentions if m.start < title_end]
    in_text = [m for m in rule.mentions if m.start >= title_end]
    weak: ChangeKind | None = None
    for mention in in_title + in_text:
        near = _near(*text.scan, mention.start, mention.end)
        if near is not None and near[1]:
            return near[0]
        if near is not None and weak is None:
            weak = near[0]
    if weak is not None:
        return weak
    kind = text.title_kind()
    if kind is None and in_text:
        kind = text.sentence_kind(in_text[0].start)
    return kind or ChangeKind.amendment


class TextKinds:
    """What ``kind_of`` reads from a text the same way for each rule, read once.

    The title's verbs, and the verb of the sentence it falls back to (after the title, up to
    the stops around a mention): read once per rule, a sentence naming thousands of rules
    made kind_of quadratic. The stops are listed once, when a fallback first needs them.
    """

    def __init__(self, doc: str, title_end: int) -> None:
        self._doc = doc
        # The text verbs are read in (the lower-cased copy when it can), for all rules.
        self.scan = _scan(doc)
        self._title_end = title_end
        self._title: tuple[bool, ChangeKind | None] | None = None
        self._stops: list[int] | None = None
        self._sentences: dict[tuple[int, int], ChangeKind | None] = {}

    def _read_title(self) -> tuple[bool, ChangeKind | None]:
        if self._title is None:
            scan, verbs = self.scan
            title = scan[: self._title_end]
            self._title = (verbs.ranked[0][1].search(title) is not None, _kind_in(title, verbs))
        return self._title

    def consultation_title(self) -> bool:
        return self._read_title()[0]

    def title_kind(self) -> ChangeKind | None:
        return self._read_title()[1]

    def sentence_kind(self, pos: int) -> ChangeKind | None:
        """The kind of the verb of the sentence holding ``pos`` (at or after the title's end):
        from the end of the last _STOP before it to the next _STOP."""
        if self._stops is None:
            self._stops = [m.start() for m in _STOP.finditer(self._doc, self._title_end)]
        after = bisect_left(self._stops, pos)
        start = self._stops[after - 1] + 1 if after else self._title_end
        end = self._stops[after] if after < len(self._stops) else len(self._doc)
        if (start, end) not in self._sentences:
            scan, verbs = self.scan
            self._sentences[start, end] = _kind_in(scan[start:end], verbs)
        return self._sentences[start, end]


# Said of a rule to say it does not change: after its name, or 不涉及 before it.
_UNCHANGED_AFTER = re.compile(
    r"[\s）)]*(?:本次)?(?:未作(?:修改|调整|变更)|未(?:修改|调整|变更)|不变|保持不变|不受影响|不作调整"
    r"|(?:\(|（)?(?:no\s+changes?|unchanged)|[:：]\s*no\s+changes?"
    r"|(?:is|are|was|were)\s+(?:not\s+(?:changing|changed|affected|being\s+changed)"
    r"|otherwise\s+unchanged|unchanged|unaffected))",
    re.IGNORECASE,
)
_UNCHANGED_BEFORE = re.compile(
    r"(?:不涉及|未涉及|不包括|not\s+changing\s+(?:the|our))\s*[《“]?$", re.I
)


def left_alone(doc: str, rule: Rule) -> bool:
    """Whether every mention of ``rule`` says it stays as it is ("《X》本次未作修改", "The Y policy
    is not changing", "不涉及《Z》"), so the notice changes it not at all."""
    for mention in rule.mentions:
        after = _UNCHANGED_AFTER.match(
            doc, mention.end + (doc[mention.end : mention.end + 1] in "》”」")
        )
        before = _UNCHANGED_BEFORE.search(doc, max(0, mention.start - 12), mention.start)
        if after is None and before is None:
            return False
    return bool(rule.mentions)
