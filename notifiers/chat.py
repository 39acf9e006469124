"""What the chat-bot kinds (DingTalk, WeCom, Feishu/Lark, Slack) share.

A chat bot gets a reminder written for people, in its own markup, from the same facts a
webhook receives (``Message.payload``, described in the README): :class:`Card` reads them
once, the ``chat.md.j2`` template writes them in a :class:`Dialect` (how that vendor writes
bold, links and mentions), and :func:`fit` shortens the result until it is within the
vendor's size limit: the list (of sources, or a digest's reminders) is cut first (with
"还有 N 条" and the link kept),
then the summary, and only then the text itself.

Chat bots answer HTTP 200 with an error code in the body. :class:`Codes` is each vendor's
table of those codes and :func:`judge` turns a body into delivered, retry later (rate
limits, the vendor's own trouble) or failed for good (a refused signature, keyword or IP, a
wrong key), in one place for every kind.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, ConfigDict, Field, SecretStr, field_validator

from notifiers.base import Deps, Message, Outcome, Verdict, one_line, url_secrets, utc_now
from notifiers.checks import check_http_url, config_problem
from notifiers.pacing import Pacing

if TYPE_CHECKING:  # loading a config builds the models only: no HTTP client, no templates
    import httpx
    from jinja2 import Template

# --- config ------------------------------------------------------------------------------


def _check_secret_url(value: SecretStr) -> SecretStr:
    check_http_url(value.get_secret_value())
    return value


# A robot's address is its credential (a token in the query or the path), so it is a secret
# as a whole: shown as *** by config output, never logged.
SecretUrl = Annotated[SecretStr, AfterValidator(_check_secret_url)]


def _check_signing_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise config_problem("is empty; leave secret out when the robot does not sign")
    return value


# DingTalk's 加签 and Feishu's 签名校验 secret.
SigningSecret = Annotated[SecretStr, AfterValidator(_check_signing_secret)]


class ChatChannel(Pacing):
    """The keys every chat-bot kind has; each kind adds its ``kind`` and its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    url: SecretUrl
    timeout: float = Field(default=10.0, gt=0, le=300)
    # Who is @-mentioned in every message of this channel: "all", or the kind's own ids
    # (mobile numbers for DingTalk and WeCom, user ids for Feishu and Slack).
    mention: list[str] = Field(default_factory=list)

    # What an entry of ``mention`` other than "all" looks like for the kind, and its name.
    mention_form: ClassVar[tuple[str, str]] = (r"\S+", "a user")

    @classmethod
    def accepts(cls, entry: str) -> bool:
        """Whether the kind can @-mention ``entry``."""
        return entry == "all" or re.fullmatch(cls.mention_form[0], entry) is not None

    @field_validator("mention")
    @classmethod
    def _check_mention(cls, value: list[str]) -> list[str]:
        for position, entry in enumerate(value, 1):
            if not cls.accepts(entry):
                what = cls.mention_form[1]
                raise config_problem(f'entry {position} ({entry!r}) is neither "all" nor {what}')
        return value

    def address(self) -> str:
        return self.url.get_secret_value()


# --- what a chat message says --------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    title: str
    url: str | None


@dataclass(frozen=True)
class Card:
    """A reminder as a chat message tells it, read from the webhook payload."""

    headline: str
    kind: str
    rule: str
    platform: str | None
    announced_on: str | None
    effective_on: str | None
    effective_at: str | None
    tentative: bool
    days_left: int | None
    summary: str
    moved_from: str | None
    withdrawn: bool
    # What the message lists: the sources of one reminder, or the reminders of a digest.
    listed: tuple[Link, ...]
    link: str

    @classmethod
    def of(cls, message: Message) -> Card:
        payload = message.payload
        if payload.get("kind") == "digest":
            return cls._digest(message)
        if payload.get("kind") == "service":  # about rulewatch itself: a source failing
            return cls._service(message)
        rule = payload.get("rule") or {}
        change = payload.get("change") or {}
        changed = payload.get("changed") or {}
        return cls(
            headline=message.subject,
            kind=str(payload.get("kind") or ""),
            rule=str(rule.get("name") or rule.get("key") or ""),
            platform=rule.get("platform"),
            announced_on=change.get("announced_on"),
            effective_on=change.get("effective_on"),
            effective_at=change.get("effective_at"),
            tentative=bool(change.get("tentative")),
            days_left=payload.get("days_left"),
            summary=str(change.get("summary") or change.get("title") or ""),
            moved_from=changed.get("from"),
            withdrawn=bool(changed.get("withdrawn")),
            listed=tuple(
                Link(str(s.get("title") or s.get("url") or ""), _web(s.get("url")))
                for s in payload.get("sources") or ()
            ),
            link=str(payload.get("link") or ""),
        )

    @classmethod
    def _service(cls, message: Message) -> Card:
        return cls(
            headline=message.subject,
            kind="service",
            rule="",
            platform=None,
            announced_on=None,
            effective_on=None,
            effective_at=None,
            tentative=False,
            days_left=None,
            summary=str(message.payload.get("text") or message.text),
            moved_from=None,
            withdrawn=False,
            listed=(),
            link=_web(message.payload.get("link")) or "",
        )

    @classmethod
    def _digest(cls, message: Message) -> Card:
        items = message.payload.get("items") or ()
        return cls(
            headline=message.subject,
            kind="digest",
            rule="",
            platform=None,
            announced_on=None,
            effective_on=None,
            effective_at=None,
            tentative=False,
            days_left=None,
            summary="",
            moved_from=None,
            withdrawn=False,
            listed=tuple(Link(_digest_line(item), _web(item.get("link"))) for item in items),
            link=str(message.payload.get("link") or ""),
        )


def _digest_line(item: Mapping[str, Any]) -> str:
    """One reminder of a digest in a line: what it says, the rule, when it takes effect."""
    rule = item.get("rule") or {}
    change = item.get("change") or {}
    changed = item.get("changed") or {}
    name = str(rule.get("name") or rule.get("key") or "")
    platform = f"（{rule['platform']}）" if rule.get("platform") else ""
    effective = change.get("effective_on") or "未知"
    days = item.get("days_left")
    if changed.get("withdrawn"):
        said = f"已撤回，原定 {changed.get('effective_on') or effective} 生效"
    elif changed.get("from"):
        said = f"生效日期改为 {effective}（原 {changed['from']}）"
    elif item.get("kind") == "announced":
        said = f"新公示，{effective} 生效"
    elif days == 0:
        said = f"今天生效（{effective}）"
    else:
        said = f"{effective} 生效" + (f"，还有 {days} 天" if isinstance(days, int) else "")
    return f"{name}{platform}：{said}"


def _web(url: object) -> str | None:
    # Only a web address becomes a link: a source may say "javascript:…" or "file:…".
    if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
        return url
    return None


@dataclass(frozen=True)
class Dialect:
    """How one vendor writes the few kinds of markup a message uses."""

    bold: Callable[[str], str]
    link: Callable[[str, str], str]
    escape: Callable[[str], str] = str
    line_break: str = "\n"  # between the lines of a block
    gap: str = "\n\n"  # between blocks
    # The vendor shows the subject above the text (Feishu's card header): not repeated.
    titled: bool = False


# Text from a notice must not turn into markup: a "[点此](…)" in a summary is no link, a
# "<at id=all></at>" no mention. Full-width look-alikes read the same to a person.
_MARKDOWN_SAFE = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "*": "＊", "`": "｀"})


def _markdown_escape(text: str) -> str:
    return text.translate(_MARKDOWN_SAFE)


def _markdown_link(text: str, url: str) -> str:
    # A ] in the text or a ) in the address would end the link early.
    return f"[{_markdown_escape(text)}]({url.replace(')', '%29')})"


MARKDOWN = Dialect(bold=lambda s: f"**{s}**", link=_markdown_link, escape=_markdown_escape)


@cache
def _template() -> Template:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("notifiers", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    return environment.get_template("chat.md.j2")


# Every message carries these words, so a robot whose security option is "custom keyword"
# (自定义关键词) can be set to one of them: docs/channels.md says which to choose.
KEYWORD = "规则提醒"
FOOTER = f"rulewatch {KEYWORD}"


def write(
    card: Card,
    dialect: Dialect,
    *,
    listed: int | None = None,
    summary: bool = True,
    mentions: str = "",
    ending: bool = True,
) -> str:
    """The message text, with the first ``listed`` entries of the list (all when None)
    and the rest counted, the summary when ``summary``, and unless ``ending`` is false the
    link, the mentions and the footer that close it."""
    shown = card.listed if listed is None else card.listed[:listed]
    text = _template().render(
        c=card,
        d=dialect,
        e=dialect.escape,
        listed=shown,
        more=len(card.listed) - len(shown),
        summary=summary,
        mentions=mentions,
        ending=ending,
        footer=FOOTER,
    )
    blocks = [block.strip("\n") for block in text.split("\n\n") if block.strip()]
    return dialect.gap.join(dialect.line_break.join(block.split("\n")) for block in blocks)


def fit(card: Card, dialect: Dialect, fits: Callable[[str], bool], *, mentions: str = "") -> str:
    """The richest text of ``card`` that ``fits`` the vendor's limit.

    The list is cut first (as little as needed, the rest counted as "还有 N 条"), as long as
    some of it stays; then the summary goes and the list is cut again; only then is the
    text itself cut, keeping the link to the change page, the mentions and the footer once.
    """
    full = write(card, dialect, mentions=mentions)
    if fits(full):
        return full
    for summary in (True, False):

        def listing(n: int, summary: bool = summary) -> str:
            return write(card, dialect, listed=n, summary=summary, mentions=mentions)

        # The text grows with the length of the list: list the most that fit.
        most = _most(listing, len(card.listed), fits)
        if most is not None and (most[0] > 0 or not card.listed or not summary):
            return most[1]
    head = write(card, dialect, listed=0, summary=False, ending=False)
    link = dialect.link("查看这项变更", card.link) if card.link else ""
    tail = dialect.gap + dialect.gap.join(p for p in ("…", link, mentions, FOOTER) if p)
    cut = _most(lambda n: head[:n] + tail, len(head), fits)
    return cut[1] if cut is not None else FOOTER


def _most(
    text: Callable[[int], str], most: int, fits: Callable[[str], bool]
) -> tuple[int, str] | None:
    """The largest ``n`` in 0..``most`` whose ``text(n)`` fits (a text that grows with
    ``n``) and that text, or None when even ``text(0)`` does not fit."""
    low, high, best = 0, most, None
    while low <= high:
        middle = (low + high) // 2
        candidate = text(middle)
        if fits(candidate):
            best, low = (middle, candidate), middle + 1
        else:
            high = middle - 1
    return best


def json_body(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- what a vendor's answer means ---------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """One vendor's error codes in a 200 answer's JSON body."""

    vendor: str  # as a person names it in a reason: "钉钉"
    code_fields: tuple[str, ...]  # the first one present holds the code ("errcode")
    message_fields: tuple[str, ...]  # the vendor's own words ("errmsg")
    retry: Mapping[int, str] = field(default_factory=dict)  # code → what it means
    failed: Mapping[int, str] = field(default_factory=dict)
    # How long the vendor stops taking messages after a retry code (seconds): DingTalk
    # blocks a robot for 10 minutes once it went over its limit.
    wait: Mapping[int, float] = field(default_factory=dict)


def judge(codes: Codes, body: str) -> Outcome | None:
    """What a 200 answer's ``body`` says: None when it says the message was taken (code
    0), else the Outcome its code means. An unknown code is tried again (the retry limit
    still ends it): giving up on a code nobody documented could lose a reminder."""
    try:
        answer = json.loads(body)
    except ValueError:
        return Outcome(Verdict.retry, f"{codes.vendor}的应答不是 JSON：{one_line(body, 120)}")
    if not isinstance(answer, dict):
        return Outcome(Verdict.retry, f"{codes.vendor}的应答不是 JSON 对象")
    code = next((answer[f] for f in codes.code_fields if f in answer), None)
    if code in (0, "0"):
        return None
    said = next((str(answer[f]) for f in codes.message_fields if answer.get(f)), "")
    said = f"：{one_line(said, 160)}" if said else ""
    try:
        number = int(code)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Outcome(Verdict.retry, f"{codes.vendor}的应答里没有错误码{said}")
    if number in codes.failed:
        meaning = codes.failed[number]
        return Outcome(Verdict.failed, f"{codes.vendor}拒收（{number} {meaning}）{said}")
    if number in codes.retry:
        meaning = codes.retry[number]
        return Outcome(
            Verdict.retry,
            f"{codes.vendor}暂不接收（{number} {meaning}）{said}",
            retry_after=codes.wait.get(number),
        )
    return Outcome(Verdict.retry, f"{codes.vendor}返回未知错误码 {number}{said}")


# --- the sender ---------------------------------------------------------------------------


class ChatNotifier:
    """One chat-bot channel: writes each message in the vendor's dialect, fits it to the
    vendor's size limit, posts it once and judges the answer by its body.

    A kind is a subclass saying how its vendor does it: ``codes`` and ``dialect`` as class
    attributes, ``body`` (the JSON the vendor takes), ``mention_line``, and where needed
    ``address`` (DingTalk signs in the query string) and ``fits``.
    """

    # Chat messages are written from the subject and payload, not the email bodies.
    uses_message_bodies = False
    codes: Codes | None = None  # None: the HTTP status alone says how it went (Slack)
    dialect: Dialect = MARKDOWN
    max_body_bytes = 20_000

    def __init__(
        self,
        config: ChatChannel,
        client: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self._client = client
        self._now = now
        self._secrets = [*url_secrets(config.address()), *self.secret_values()]

    @classmethod
    def build(cls, config: ChatChannel, deps: Deps) -> Self:
        """The registry's factory: a notifier on the shared HTTP client and clock."""
        return cls(config, deps.http, now=deps.now)

    # --- what a kind says ------------------------------------------------------------------

    def secret_values(self) -> list[str]:
        """What besides the URL must never show in a reason: the signing secret, for the
        kinds that have one."""
        secret: SecretStr | None = getattr(self.config, "secret", None)
        return [secret.get_secret_value()] if secret is not None else []

    def mention_line(self, mentions: Sequence[str]) -> str:
        """The text that @-mentions ``mentions`` in a message ("" for none)."""
        raise NotImplementedError

    def body(self, message: Message, text: str, mentions: Sequence[str], now: datetime) -> Any:
        """The JSON the vendor takes for ``message`` written as ``text``."""
        raise NotImplementedError

    def dialect_for(self, mentions: Sequence[str]) -> Dialect:
        return self.dialect

    def fits(self, text: str, body: bytes) -> bool:
        return len(body) <= self.max_body_bytes

    def address(self, now: datetime) -> str:
        return self.config.address()

    # --- sending ---------------------------------------------------------------------------

    async def send(self, message: Message) -> Outcome:
        """Write, fit and POST ``message`` once; never raises for a delivery failure."""
        now = self._now()
        # A watch's list may name people for other kinds of chat too.
        theirs = [m for m in message.mentions if self.config.accepts(m)]
        mentions = tuple(dict.fromkeys((*self.config.mention, *theirs)))
        dialect = self.dialect_for(mentions)
        line = self.mention_line(mentions)

        def encoded(text: str) -> bytes:
            return json_body(self.body(message, text, mentions, now))

        text = fit(Card.of(message), dialect, lambda t: self.fits(t, encoded(t)), mentions=line)
        codes = self.codes
        from notifiers.http import post

        return await post(
            self._client,
            self.address(now),
            content=encoded(text),
            headers={"content-type": "application/json", "user-agent": USER_AGENT},
            timeout=self.config.timeout,
            secrets=self._secrets,
            now=self._now,
            judge=None if codes is None else lambda answer: judge(codes, answer),
        )


USER_AGENT = "rulewatch-chat"


def hmac_base64(key: bytes, message: bytes) -> str:
    """base64 of HMAC-SHA256(key, message): the signature DingTalk and Feishu both use,
    each with its own key and message."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")
