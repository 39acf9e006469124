"""Load and validate config.toml into ``Settings``.

Entry points call ``resolve_config_path`` then ``load_settings`` and pass the result down;
nothing here runs at import time. A bad file raises ``ConfigError`` listing every problem
found, each with the file, the key path as written in TOML ("channels[1].url") and its line.

Any string value written ``"env:NAME"`` is replaced by the environment variable NAME when the
file is loaded; a variable that is missing or empty is a problem, never a silent None.
Secrets are ``SecretStr`` and are never shown: not in error messages, ``repr`` or
``Settings.redacted()``.

This module holds the sections and the loading steps. The rest is machinery it calls:
``values`` (each key's value type, and how values are shown), ``source``
(reading the file, the line of each key, ``env:`` references) and ``problems``
(pydantic errors and cross-entry checks as problems).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alerts.config.problems import cross_check, to_problems, translate
from alerts.config.source import (
    CONFIG_ENV,
    format_parts,
    parse_toml,
    read_text,
    resolve_env,
)
from alerts.config.values import (
    Day,
    Duration,
    LeadDays,
    Name,
    OptionalDate,
    Regex,
    SessionSecret,
    Text,
    TimeOfDay,
    Token,
    invalid,
    resolve_database,
    shown,
    split_listen,
    url_masked,
)
from alerts.errors import ConfigError
from alerts.sources import SourceConfig, source_union
from alerts.users import UserConfig
from notifiers import ChannelConfig, channel_union
from notifiers.checks import check_http_url
from notifiers.email import SmtpSettings

__all__ = [
    "ApiSettings",
    "CalendarSettings",
    "PollingSettings",
    "ReminderSettings",
    "ServiceSettings",
    "Settings",
    "SmtpSettings",
    "Watch",
    "load_settings",
    "parse_settings",
    "resolve_config_path",
    "url_masked",
]

DEFAULT_CONFIG = Path("config.toml")

# --- sections ----------------------------------------------------------------------------


class _Section(BaseModel):
    # strict: TOML is typed, so "8" for a number is a mistake to report, not to coerce.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, validate_default=True, hide_input_in_errors=True
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A database or webhook URL may carry a password or token.
        for key, value in super().__repr_args__():
            yield key, url_masked(value) if isinstance(value, str) else value


class ServiceSettings(_Section):
    """``[service]``: time zone, database, listen address and public URL."""

    timezone: str = "Asia/Shanghai"
    database: str = "sqlite:///rulewatch.db"
    listen: str = "127.0.0.1:8080"
    base_url: str
    # The channel that hears when a source starts failing and when it recovers.
    admin_channel: str | None = None
    # Signs the page's session cookies: without it each start of serve makes its own, so a
    # restart signs everyone out and instances do not share sessions.
    session_secret: SessionSecret = None

    @model_validator(mode="before")
    @classmethod
    def _derive_base_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "base_url" not in data:
            try:
                host, port = split_listen(data.get("listen", "127.0.0.1:8080"))
            except (PydanticCustomError, TypeError):
                # listen's own error is the one to report; base_url then needs no second one.
                host, port = "127.0.0.1", 8080
            host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
            host = f"[{host}]" if ":" in host else host
            data = {**data, "base_url": f"http://{host}:{port}"}
        return data

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid(
                'is not a known time zone; use an IANA name such as "Asia/Shanghai" or "UTC"'
            ) from None
        return value

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, dict) else {}
        return resolve_database(value, Path(context.get("base_dir") or Path.cwd()))

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")

    @property
    def tz(self) -> ZoneInfo:
        """The service time zone, in which 公示/生效 dates and reminder times are read."""
        return ZoneInfo(self.timezone)

    @property
    def listen_host(self) -> str:
        """The host part of ``listen`` (an IPv6 address without brackets)."""
        return split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        """The port part of ``listen``."""
        return split_listen(self.listen)[1]


class ReminderSettings(_Section):
    """``[reminders]``: when reminders go out and how often a failing send is tried."""

    lead_days: LeadDays = [7, 1, 0]
    at: TimeOfDay = time(9, 0)
    shift: Literal["none", "previous_workday"] = "none"
    max_attempts: int = Field(default=8, ge=1, le=100)
    # How long a sender holds the reminders it claimed before another may take them; renewed
    # while they are being sent, so only a sender that died lets it run out.
    lease_seconds: float = Field(default=300.0, ge=3, le=86400)
    # On SIGTERM/SIGINT, how long attempts in flight may take to finish.
    stop_grace_seconds: float = Field(default=10.0, ge=0, le=600)


class WorkdaySettings(_Section):
    """``[workdays]``: China's days off and make-up working days (调休) beyond what the
    chinesecalendar package knows, for years it has no data for yet."""

    days_off: list[Day] = []
    workdays: list[Day] = []

    @model_validator(mode="after")
    def _not_both(self) -> WorkdaySettings:
        both = sorted(set(self.days_off) & set(self.workdays))
        if both:
            raise invalid(f"{both[0]} is listed as a day off and as a working day")
        return self


class Watch(_Section):
    """One ``[[watch]]``: which changes matter, where they go, with which lead times."""

    name: Name
    rules: list[Text] = []
    platforms: list[Text] = []
    keywords: list[Text] = []
    regex: list[Regex] = []
    tags: list[Text] = []
    channels: list[Text] = []
    lead_days: LeadDays | None = None
    since: OptionalDate = None
    # Who is @-mentioned when its changes reach a chat channel, besides the channel's own.
    mention: list[Text] = []
    # A change marked handled for the watch (or one of its tags) gets no more lead reminders.
    stop_when_handled: bool = True

    @model_validator(mode="after")
    def _selects_something(self) -> Watch:
        if not (self.rules or self.platforms or self.keywords or self.regex):
            raise invalid("selects nothing: give rules, platforms, keywords or regex")
        return self

    def patterns(self) -> list[re.Pattern[str]]:
        """``regex`` compiled (already checked to compile at load time)."""
        return [re.compile(p) for p in self.regex]


class CalendarSettings(_Section):
    """``[calendar]``: the iCalendar feed's name, access token and refresh interval."""

    name: Text = "平台规则生效日历"
    description: str = "电商平台规则变更的公示与生效日期（rulewatch）"
    token: Token = None
    refresh: Duration = timedelta(hours=1)


class ApiSettings(_Section):
    """``[api]``: the bearer token for writes and the largest accepted request body."""

    token: Token = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)


class PollingSettings(_Section):
    """``[polling]``: the manners every source's fetches keep."""

    # Sent with every request; name a contact so a site's admin can reach you.
    user_agent: str | None = Field(default=None, min_length=1, max_length=300)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)  # the whole fetch of a page
    max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_seconds: float = Field(default=1.0, ge=0, le=3600)  # between requests to a host
    # Polls failed in a row before [service] admin_channel hears that a source fails.
    alert_after: int = Field(default=3, ge=1, le=1000)
    # Whether sources added through the API may fetch this machine's and private networks'
    # addresses (config.toml's may always: whoever edits it runs the machine).
    api_private_addresses: bool = False


if TYPE_CHECKING:
    _AnyChannel = ChannelConfig
    _AnySource = SourceConfig
else:
    _AnyChannel = channel_union()
    _AnySource = source_union()


class Settings(_Section):
    """The whole configuration. Build it with ``load_settings``; it is immutable."""

    service: ServiceSettings
    reminders: ReminderSettings
    watches: list[Watch] = Field(default=[], alias="watch")
    channels: list[_AnyChannel] = []
    smtp: SmtpSettings | None = None
    calendar: CalendarSettings
    api: ApiSettings
    workdays: WorkdaySettings = WorkdaySettings()
    sources: list[_AnySource] = []
    polling: PollingSettings = PollingSettings()
    users: list[UserConfig] = []

    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _default_sections(cls, data: Any) -> Any:
        # Absent sections are validated from {} so that their defaults see the context
        # (a default SQLite file lands beside the config file, not in the working directory).
        if isinstance(data, dict):
            data = {**{k: {} for k in ("service", "reminders", "calendar", "api")}, **data}
        return data

    @model_validator(mode="after")
    def _check_references(self, info: ValidationInfo) -> Settings:
        if isinstance(info.context, dict) and info.context.get("cross_checked"):
            return self  # parse_settings has checked the raw file, with precise key paths
        found = cross_check(self.model_dump(by_alias=True))
        if found:
            raise ValueError("; ".join(f"{format_parts(p)}: {m}" for p, m in found))
        return self

    @property
    def path(self) -> Path | None:
        """The file these settings were read from (None when built in code)."""
        return self._path

    def channel(self, name: str) -> ChannelConfig:
        """The channel called ``name``. Raises KeyError when there is none."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)

    def redacted(self) -> dict[str, Any]:
        """Every setting as plain TOML-like values, safe to print: secrets are "***" and
        URLs lose their userinfo and query values."""
        return dict(shown(self.model_dump(by_alias=True)))


# --- loading -----------------------------------------------------------------------------


def resolve_config_path(cli_value: Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The config file to read: ``--config``, else $RULEWATCH_CONFIG, else ./config.toml."""
    if cli_value is not None:
        return cli_value
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG


def load_settings(
    path: Path, environ: Mapping[str, str] = os.environ, *, secrets_needed: bool = True
) -> Settings:
    """Read and validate the config file at ``path``.

    Raises ConfigError when the file is missing or unreadable, is not valid TOML, or holds
    values that do not validate; the error lists every problem, each with its key and line.
    With ``secrets_needed=False`` (commands that only read the store), a secret whose
    ``env:`` variable is not set is left out instead (see ``parse_settings``).
    """
    return parse_settings(
        read_text(path), path=path, environ=environ, secrets_needed=secrets_needed
    )


def parse_settings(
    text: str,
    *,
    path: Path,
    environ: Mapping[str, str] = os.environ,
    secrets_needed: bool = True,
) -> Settings:
    """Validate ``text`` as the config file ``path`` (whose folder anchors relative paths).

    Raises ConfigError listing every problem found. With ``secrets_needed=False``, an
    ``env:`` reference to a variable not set is no problem where the value is a secret or
    an address only sending needs (a channel's url, secret and header values, the SMTP
    password, the API and feed tokens): it is left out, or a channel's url replaced by a
    stand-in, so that what reads the store works without the secrets of what sends.
    """
    where = str(path)
    data, lines = parse_toml(text, where)
    data, found, sourced = resolve_env(data, environ)
    if not secrets_needed:
        found = [(parts, message) for parts, message in found if not _stand_in(data, parts)]
    unresolved = [parts for parts, _ in found]
    found += cross_check(data)
    context = {"base_dir": path.parent.absolute(), "cross_checked": True}
    cause: ValidationError | None = None
    try:
        settings = Settings.model_validate(data, context=context)
    except ValidationError as exc:
        cause = exc
        for error in exc.errors(include_url=False):
            parts, message = translate(error, model=Settings, raw=data, sourced=sourced)
            # An unresolved env: reference already has its own, clearer problem.
            if not any(parts[: len(u)] == u for u in unresolved):
                found.append((parts, message))
    if found:
        raise ConfigError(to_problems(where, found, lines)) from cause
    settings._path = path
    return settings


# Where a read-only command may do without an env: secret, and what it does instead.
_LEFT_OUT = {("api", "token"), ("calendar", "token")}
_CHANNEL_STAND_IN_URL = "http://127.0.0.1:9/env-not-set"


def _stand_in(data: dict[str, Any], parts: tuple[str | int, ...]) -> bool:
    """Put a stand-in at ``parts`` of ``data`` (an ``env:`` value not set) when a command
    that only reads the store can do without it; whether it did."""
    if parts in _LEFT_OUT:
        data[str(parts[0])].pop(parts[1], None)
        return True
    if parts == ("smtp", "password"):
        data["smtp"]["password"] = "env-not-set"  # the username wants one; nothing is sent
        return True
    if len(parts) >= 3 and parts[0] == "channels" and isinstance(parts[1], int):
        channel = data["channels"][parts[1]]
        if parts[2:] == ("url",):
            channel["url"] = _CHANNEL_STAND_IN_URL
            return True
        if parts[2:] == ("secret",):
            channel.pop("secret", None)
            return True
        if len(parts) == 4 and parts[2] == "headers":
            channel["headers"].pop(parts[3], None)
            return True
    return False
