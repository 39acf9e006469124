"""Email channel: send each reminder to a list of addresses through the ``[smtp]`` server.

``EmailChannel`` is a channel's configuration (its recipients); ``SmtpSettings`` is the
``[smtp]`` section, configured once because every email channel shares the server;
``EmailNotifier`` is the sender. Each message is multipart/alternative (text and HTML),
with non-ASCII subjects and display names encoded per RFC 2047, a Message-ID derived from
the message id (the same on every retry) and an ``X-Rulewatch-Event`` header carrying that
id. No text that reaches a header can add another: line breaks are folded to spaces.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.policy
import re
import ssl
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from notifiers.base import Deps, Message, Outcome, Verdict, one_line, redact, utc_now
from notifiers.pacing import Pacing

if TYPE_CHECKING:
    # Imported where mail is sent: config and the read-only pages load this module for its
    # models, and they send nothing.
    import aiosmtplib

# Deliberately loose: the SMTP server is the judge of deliverability; this only catches
# values that cannot be an address at all (typos, a missing @, a name without address).
_ADDR = r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+"
_MAILBOX = re.compile(rf"(?:{_ADDR})|(?:[^<>@]*<{_ADDR}>)")


def check_address(value: str) -> str:
    """Accept ``user@host`` or ``Display Name <user@host>``; raise a pydantic error otherwise."""
    if "\r" in value or "\n" in value:
        # A line break here would let the value add headers to the message.
        raise PydanticCustomError("rulewatch", "an address cannot contain a line break")
    if not _MAILBOX.fullmatch(value.strip()):
        raise PydanticCustomError(
            "rulewatch",
            'is not an email address; write "user@example.com" or "Name <user@example.com>"',
        )
    return value.strip()


EmailAddress = Annotated[str, AfterValidator(check_address)]


class EmailChannel(Pacing):
    """``kind = "email"``: mail each reminder to ``to`` (and ``cc``) via ``[smtp]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1)
    cc: list[EmailAddress] = Field(default_factory=list)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("rulewatch", "cannot be empty")
    return value.strip()


class SmtpSettings(BaseModel):
    """``[smtp]``: the mail server every email channel sends through."""

    # strict: TOML is typed, so "587" for a number is a mistake to report, not to coerce.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, validate_default=True, hide_input_in_errors=True
    )

    host: Annotated[str, AfterValidator(_non_empty)]
    port: int = Field(ge=1, le=65535)  # default set from ``security`` below
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: EmailAddress = Field(alias="from")
    timeout: float = Field(default=30.0, gt=0, le=300)

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and "port" not in data:
            security = data.get("security")
            port = {"tls": 465, "none": 25}.get(security, 587) if isinstance(security, str) else 587
            data = {**data, "port": port}
        return data


# --- the sender --------------------------------------------------------------------------


def clean_header(value: str) -> str:
    """``value`` on one line, fit for a header: every run of whitespace (line breaks
    included) becomes one space and other control characters are dropped, so that no
    text from a rule title or summary can end the header and start another."""
    kept = "".join(c for c in value if c.isspace() or unicodedata.category(c) != "Cc")
    return " ".join(kept.split())


def parse_mailbox(value: str) -> Address:
    """``user@host`` or ``Display Name <user@host>`` (as ``check_address`` accepts) as an
    ``Address``. Raises ValueError when the address part cannot be parsed."""
    value = value.strip()
    name, addr = "", value
    if value.endswith(">") and "<" in value:
        name, _, addr = value[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
    try:
        return Address(display_name=clean_header(name), addr_spec=addr.strip())
    except (ValueError, IndexError) as exc:  # the email package raises both on bad input
        raise ValueError(f"{addr.strip()!r} is not an address that can be mailed") from exc


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")  # RFC 5322 §3.2.3


def _message_id(message_id: str, domain: str) -> str:
    # Stable across retries, like webhook-id: if a server took the message but the
    # connection broke before its 250, the copy sent again has the same Message-ID and
    # mail programs show it once. Ids that are not a plain dot-atom get a random one.
    if domain and len(message_id) <= 200 and _DOT_ATOM.fullmatch(message_id):
        return f"<{message_id}@{domain}>"
    return make_msgid(domain=domain or None)


def _domain_of(address: Address) -> str:
    try:
        return address.domain.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


class EmailNotifier:
    """Mails each message to the channel's ``to`` and ``cc`` through the ``[smtp]`` server.

    One SMTP connection per message: reminders are few and spread out, and a fresh
    connection cannot inherit a broken state. ``tls_context`` replaces the system's
    trusted CAs (tests pass one trusting their own CA); ``now`` is the clock of the
    ``Date`` header.
    """

    def __init__(
        self,
        config: EmailChannel,
        smtp: SmtpSettings,
        *,
        tls_context: ssl.SSLContext | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.smtp = smtp
        self._tls_context = tls_context
        self._now = now
        self._where = f"{smtp.host}:{smtp.port}"
        password = smtp.password.get_secret_value() if smtp.password else ""
        user = smtp.username or ""
        # A server echoing the AUTH exchange would show these encoded forms.
        self._secrets = [
            password,
            base64.b64encode(password.encode()).decode() if password else "",
            base64.b64encode(f"\0{user}\0{password}".encode()).decode() if password else "",
        ]

    @classmethod
    def build(cls, config: EmailChannel, deps: Deps) -> EmailNotifier:
        """The registry's factory. Raises ValueError when there are no ``[smtp]`` settings."""
        if deps.smtp is None:
            raise ValueError(
                f"email channel {config.name!r} needs the [smtp] section; "
                "add it to the config file (see docs/configuration.md)"
            )
        return cls(config, deps.smtp, tls_context=deps.tls_context, now=deps.now)

    def compose(self, message: Message) -> EmailMessage:
        """The message as it will be sent. Raises ValueError when an address cannot be used."""
        sender = parse_mailbox(self.smtp.sender)
        mail = EmailMessage(policy=email.policy.SMTP)
        mail["From"] = sender
        mail["To"] = [parse_mailbox(a) for a in self.config.to]
        if self.config.cc:
            mail["Cc"] = [parse_mailbox(a) for a in self.config.cc]
        mail["Subject"] = clean_header(message.subject)
        mail["Date"] = format_datetime(self._now())
        mail["Message-ID"] = _message_id(message.id, _domain_of(sender))
        mail["X-Rulewatch-Event"] = clean_header(message.id)
        # RFC 3834: out-of-office and other auto-replies leave such mail unanswered.
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        return mail

    def envelope(self) -> tuple[str, list[str]]:
        """The SMTP envelope: sender and recipients (``to`` then ``cc``), bare addresses."""
        recipients = [parse_mailbox(a).addr_spec for a in (*self.config.to, *self.config.cc)]
        return parse_mailbox(self.smtp.sender).addr_spec, list(dict.fromkeys(recipients))

    async def send(self, message: Message) -> Outcome:
        """Mail ``message`` once and say what came of it; never raises for a delivery failure."""
        import aiosmtplib

        try:
            mail = self.compose(message)
            sender, recipients = self.envelope()
        except ValueError as exc:
            return Outcome(Verdict.failed, self._clean(f"邮件无法生成：{exc}"))
        client = aiosmtplib.SMTP(
            hostname=self.smtp.host,
            port=self.smtp.port,
            use_tls=self.smtp.security == "tls",
            # True, not None: "starttls" must never fall back to sending in clear.
            start_tls=self.smtp.security == "starttls",
            tls_context=self._tls_context,
            timeout=self.smtp.timeout,
        )
        step = "connect"
        try:
            # The timeout bounds the conversation as a whole, as well as each reply in it: a
            # server that trickles its replies cannot hold the attempt.
            async with asyncio.timeout(self.smtp.timeout):
                await client.connect()
                if self.smtp.username:
                    step = "login"
                    await client.login(
                        self.smtp.username,
                        self.smtp.password.get_secret_value() if self.smtp.password else "",
                    )
                step = "send"
                refused, reply = await client.send_message(
                    mail, sender=sender, recipients=recipients
                )
            # The message is accepted; a rude or slow goodbye changes nothing.
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                async with asyncio.timeout(self.smtp.timeout):
                    await client.quit()
        # OSError covers refused and reset connections, TLS failures and every timeout.
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            return self._failure(step, exc)
        finally:
            client.close()
        return self._accepted(reply, refused, len(recipients))

    def _accepted(
        self, reply: str, refused: dict[str, aiosmtplib.SMTPResponse], count: int
    ) -> Outcome:
        line = self._clean(f"250 {reply}")
        if not refused:
            return Outcome(
                Verdict.delivered, f"{self._where} 已接收，收件人 {count} 位", reply=line
            )
        # Some recipients got it; sending again would mail them twice, so this counts as
        # delivered and the reason names those the server turned away.
        return Outcome(
            Verdict.delivered,
            self._clean(
                f"{self._where} 已接收，{count} 位收件人中的 {count - len(refused)} 位；"
                f"拒收：{_list_refused(refused.items())}"
            ),
            reply=line,
        )

    def _failure(self, step: str, exc: aiosmtplib.SMTPException | OSError | ValueError) -> Outcome:
        import aiosmtplib

        where = self._where
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            items = [
                (e.recipient, aiosmtplib.SMTPResponse(e.code, e.message)) for e in exc.recipients
            ]
            temporary = any(400 <= r.code < 500 for _, r in items)
            return Outcome(
                Verdict.retry if temporary else Verdict.failed,
                self._clean(f"{where} 拒收了所有收件人：{_list_refused(items)}"),
                reply=self._clean(str(items[0][1])) if items else None,
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            reply = self._clean(f"{exc.code} {exc.message}")
            what = {
                "connect": f"{where} 拒绝连接",
                "login": f"{where} 拒绝登录（请检查 smtp.username 和 smtp.password）",
                "send": f"{where} 拒收这封邮件",
            }[step]
            if isinstance(exc, aiosmtplib.SMTPSenderRefused):
                what = f"{where} 拒绝发件人 {exc.sender}"
            # 4xx is "try later" in SMTP (RFC 5321 §4.2.1); 5xx will be the same next time.
            verdict = Verdict.retry if 400 <= exc.code < 500 else Verdict.failed
            return Outcome(verdict, self._clean(f"{what}：{reply}"), reply=reply)
        if isinstance(exc, TimeoutError):  # aiosmtplib's timeouts are TimeoutErrors too
            return Outcome(
                Verdict.retry,
                f"{where} 在 {self.smtp.timeout:g} 秒内没有应答"
                f"（{_STEPS[step]}，{type(exc).__name__}）",
            )
        if isinstance(exc, OSError):
            # Refused, reset, unreachable, or a TLS handshake that failed: all may pass.
            what = {
                "connect": f"无法连接 {where}",
                "login": f"登录时与 {where} 的连接中断",
                "send": f"发送时与 {where} 的连接中断",
            }[step]
            return Outcome(Verdict.retry, self._clean(f"{what}（{type(exc).__name__}: {exc}）"))
        if isinstance(exc, aiosmtplib.SMTPException):
            # STARTTLS or AUTH not offered, SMTPUTF8 needed but missing: the server is set up
            # differently from [smtp], which trying again will not change.
            return Outcome(
                Verdict.failed, self._clean(f"{where} 不支持 [smtp] 所配置的用法：{exc}")
            )
        # A ValueError: aiosmtplib refused an address it cannot put on a command line.
        return Outcome(Verdict.failed, self._clean(f"邮件无法发送：{exc}"))

    def _clean(self, text: str) -> str:
        return one_line(redact(text, self._secrets), limit=500)


_STEPS = {"connect": "连接时", "login": "登录时", "send": "发送时"}


def _list_refused(items: Iterable[tuple[str, aiosmtplib.SMTPResponse]]) -> str:
    return ", ".join(
        f"{address} ({response.code} {response.message})" for address, response in items
    )
