"""Load and validate config.toml into ``Settings``.

Entry points call ``resolve_config_path`` then ``load_settings`` and pass the result down;
nothing here runs at import time. A bad file raises ``ConfigError`` listing every problem
found, each with the file, the key path as written in TOML ("channels[1].url") and its line.

Any string value written ``"env:NAME"`` is replaced by the environment variable NAME when the
file is loaded; a variable that is missing or empty is a problem, never a silent None.
Secrets are ``SecretStr`` and are never shown: not in error messages, ``repr`` or
``Settings.redacted()``.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import os
import re
import tomllib
import types
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alerts.errors import ConfigError, ConfigProblem
from notifiers import CHANNEL_MODELS, ChannelConfig, channel_union
from notifiers.email import SmtpSettings
from notifiers.webhook import check_http_url

__all__ = [
    "ApiSettings",
    "CalendarSettings",
    "ReminderSettings",
    "ServiceSettings",
    "Settings",
    "SmtpSettings",
    "Watch",
    "load_settings",
    "parse_settings",
    "redact_url",
    "resolve_config_path",
]

CONFIG_ENV = "RULEWATCH_CONFIG"
DEFAULT_CONFIG = Path("config.toml")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")

Parts = tuple[str | int, ...]  # a key path: ("channels", 1, "url")


def _problem(message: str, *, shows_value: bool = False) -> PydanticCustomError:
    # "rulewatch" errors get the given value appended when shown; a message that already
    # names the value says so, to not repeat it.
    return PydanticCustomError("rulewatch_shown" if shows_value else "rulewatch", message)


def _q(value: object) -> str:
    """``value`` quoted as TOML writes a string."""
    return json.dumps(value, ensure_ascii=False)


# --- value types -------------------------------------------------------------------------


def _non_empty(value: str) -> str:
    if not value.strip():
        raise _problem("cannot be empty")
    return value.strip()


def _check_name(value: str) -> str:
    value = _non_empty(value)
    if len(value) > 64:
        raise _problem(f"is {len(value)} characters long; names have at most 64")
    return value


Text = Annotated[str, AfterValidator(_non_empty)]
Name = Annotated[str, AfterValidator(_check_name)]


def _check_lead_days(value: list[int]) -> list[int]:
    for day in value:
        if value.count(day) > 1:
            raise _problem(
                f"{day} is listed more than once; give each lead time once", shows_value=True
            )
    # Largest first, the order reminders go out in.
    return sorted(value, reverse=True)


LeadDays = Annotated[list[Annotated[int, Field(ge=0)]], AfterValidator(_check_lead_days)]


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise _problem(
            f"the pattern {_q(value)} does not compile: {exc}", shows_value=True
        ) from None
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]


def _parse_time(value: object) -> object:
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
        raise _problem('is not a time of day; write "HH:MM" from "00:00" to "23:59"')
    return value  # a TOML time passes; anything else gets pydantic's type error


def _parse_date(value: object) -> object:
    if isinstance(value, datetime):
        raise _problem("give a date without a time of day, e.g. 2024-03-01")
    if isinstance(value, str):
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise _problem("is not a date; write a TOML date such as 2024-03-01")
    return value


_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def _parse_duration(value: object) -> object:
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().upper())
        if not match or value.strip().upper() == "P":
            raise _problem('is not an ISO 8601 duration; write e.g. "PT1H", "PT30M" or "P1D"')
        value = timedelta(**{k: int(v) for k, v in match.groupdict().items() if v})
    if isinstance(value, timedelta) and value < timedelta(minutes=1):
        raise _problem("must be at least one minute")
    return value


def _iso_duration(value: timedelta) -> str:
    minutes, seconds = divmod(value.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    days = f"{value.days}D" if value.days else ""
    return f"P{days}T{clock}" if clock else f"P{days or '0D'}"


def _check_token(value: SecretStr | None) -> SecretStr | None:
    # The feed token travels in a URL path, so it must be URL-safe as written.
    if value is not None and not re.fullmatch(r"[A-Za-z0-9._~-]{16,}", value.get_secret_value()):
        raise _problem(
            "must be at least 16 characters from A-Z a-z 0-9 . _ ~ -; "
            'e.g. python -c "import secrets; print(secrets.token_urlsafe(24))"'
        )
    return value


Token = Annotated[SecretStr | None, AfterValidator(_check_token)]

# --- sections ----------------------------------------------------------------------------


class _Section(BaseModel):
    # strict: TOML is typed, so "8" for a number is a mistake to report, not to coerce.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, validate_default=True, hide_input_in_errors=True
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A database or webhook URL may carry a password or token.
        for key, value in super().__repr_args__():
            yield key, redact_url(value) if isinstance(value, str) else value


class ServiceSettings(_Section):
    """``[service]``: time zone, database, listen address and public URL."""

    timezone: str = "Asia/Shanghai"
    database: str = "sqlite:///rulewatch.db"
    listen: str = "127.0.0.1:8080"
    base_url: str

    @model_validator(mode="before")
    @classmethod
    def _derive_base_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "base_url" not in data:
            try:
                host, port = _split_listen(data.get("listen", "127.0.0.1:8080"))
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
            raise _problem(
                'is not a known time zone; use an IANA name such as "Asia/Shanghai" or "UTC"'
            ) from None
        return value

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, dict) else {}
        return _resolve_database(value, Path(context.get("base_dir") or Path.cwd()))

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        _split_listen(value)
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
        return _split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        """The port part of ``listen``."""
        return _split_listen(self.listen)[1]


def _split_listen(value: str) -> tuple[str, int]:
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", value)
    if not match or not 1 <= int(match[2]) <= 65535:
        raise _problem('must be "host:port" with a port from 1 to 65535, e.g. "127.0.0.1:8080"')
    host = match[1]
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _problem(f"{_q(host)} is not an IPv6 address", shows_value=True) from None
    return host, int(match[2])


def _resolve_database(value: str, base_dir: Path) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise _problem(
            'is not a database URL; write "sqlite:///rulewatch.db" or '
            '"postgresql+psycopg://user@host/dbname"'
        )
    if scheme not in DATABASE_SCHEMES:
        raise _problem(
            f"the scheme {_q(scheme)} is not supported; use {', '.join(DATABASE_SCHEMES)}"
        )
    if scheme == "postgresql":
        # SQLAlchemy reads a bare postgresql:// as psycopg2, which rulewatch does not install.
        scheme = "postgresql+psycopg"
    if scheme != "sqlite":
        if not rest:
            raise _problem("the URL names no server or database")
        return f"{scheme}://{rest}"
    if rest == "" or rest.startswith("/:memory:"):
        return value
    if not rest.startswith("/"):
        raise _problem(
            'a SQLite URL has three slashes before a relative path ("sqlite:///rulewatch.db") '
            'and four before an absolute one ("sqlite:////var/lib/rulewatch.db")'
        )
    file, question, query = rest[1:].partition("?")
    if not file:
        raise _problem("the SQLite URL names no file")
    # Relative to the config file, not the working directory: cron and systemd start elsewhere.
    absolute = os.path.normpath(base_dir / Path(file).expanduser())
    return f"sqlite:///{absolute}{question}{query}"


class ReminderSettings(_Section):
    """``[reminders]``: when reminders go out and how often a failing send is tried."""

    lead_days: LeadDays = [7, 1, 0]
    at: Annotated[time, BeforeValidator(_parse_time)] = time(9, 0)
    shift: Literal["none", "previous_workday"] = "none"
    max_attempts: int = Field(default=8, ge=1, le=100)


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
    since: Annotated[date | None, BeforeValidator(_parse_date)] = None

    @model_validator(mode="after")
    def _selects_something(self) -> Watch:
        if not (self.rules or self.platforms or self.keywords or self.regex):
            raise _problem("selects nothing: give rules, platforms, keywords or regex")
        return self

    def patterns(self) -> list[re.Pattern[str]]:
        """``regex`` compiled (already checked to compile at load time)."""
        return [re.compile(p) for p in self.regex]


class CalendarSettings(_Section):
    """``[calendar]``: the iCalendar feed's name, access token and refresh interval."""

    name: Text = "平台规则生效日历"
    description: str = "电商平台规则变更的公示与生效日期（rulewatch）"
    token: Token = None
    refresh: Annotated[timedelta, BeforeValidator(_parse_duration)] = timedelta(hours=1)


class ApiSettings(_Section):
    """``[api]``: the bearer token for writes and the largest accepted request body."""

    token: Token = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)


if TYPE_CHECKING:
    _AnyChannel = ChannelConfig
else:
    _AnyChannel = channel_union()


class Settings(_Section):
    """The whole configuration. Build it with ``load_settings``; it is immutable."""

    service: ServiceSettings
    reminders: ReminderSettings
    watches: list[Watch] = Field(default=[], alias="watch")
    channels: list[_AnyChannel] = []
    smtp: SmtpSettings | None = None
    calendar: CalendarSettings
    api: ApiSettings

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
        found = _cross_check(self.model_dump(by_alias=True))
        if found:
            raise ValueError("; ".join(f"{_format_parts(p)}: {m}" for p, m in found))
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

    def lead_days_for(self, watch: Watch) -> list[int]:
        """The watch's own lead days, else those of ``[reminders]``."""
        return self.reminders.lead_days if watch.lead_days is None else watch.lead_days

    def redacted(self) -> dict[str, Any]:
        """Every setting as plain TOML-like values, safe to print: secrets are "***" and
        URLs lose their userinfo and query values."""
        return dict(_redact(self.model_dump(by_alias=True)))


def _redact(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(value)
    return value


def redact_url(value: str) -> str:
    """``value`` with a URL's userinfo and query values masked as ``***``; other text as is."""
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return "***"
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return value
    netloc = "***@" + parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    query = "&".join(f"{pair.partition('=')[0]}=***" for pair in parts.query.split("&") if pair)
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + ("#***" if parts.fragment else "")
    )


# --- checks across entries ---------------------------------------------------------------


def _entries(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return (
        [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]
        if isinstance(value, list)
        else []
    )


def _cross_check(raw: Mapping[str, Any]) -> list[tuple[Parts, str]]:
    """Problems that span entries: duplicate names, dangling references, missing [smtp]."""
    found: list[tuple[Parts, str]] = []
    channel_names: dict[str, int] = {}
    for section, names in (("channels", channel_names), ("watch", {})):
        for i, entry in _entries(raw.get(section)):
            name = entry.get("name")
            if isinstance(name, str) and name in names:
                found.append(
                    (
                        (section, i, "name"),
                        f"{_q(name)} is already the name of {section}[{names[name]}]; "
                        "names must be unique",
                    )
                )
            elif isinstance(name, str):
                names[name] = i
    for i, watch in _entries(raw.get("watch")):
        refs = watch.get("channels")
        for k, ref in enumerate(refs if isinstance(refs, list) else []):
            if isinstance(ref, str) and ref not in channel_names:
                close = difflib.get_close_matches(ref, list(channel_names), n=1)
                hint = f"; did you mean {_q(close[0])}?" if close else ""
                known = ", ".join(channel_names) or "none"
                found.append(
                    (
                        ("watch", i, "channels", k),
                        f"no [[channels]] entry is named {_q(ref)}{hint} (defined: {known})",
                    )
                )
    smtp = raw.get("smtp")
    if smtp is None:
        for i, channel in _entries(raw.get("channels")):
            if channel.get("kind") == "email":
                found.append(
                    (
                        ("channels", i),
                        f"email channel {_q(channel.get('name'))} needs an [smtp] section "
                        "with at least host and from",
                    )
                )
    elif isinstance(smtp, dict):
        for given, other in (("username", "password"), ("password", "username")):
            if smtp.get(given) is not None and smtp.get(other) is None:
                found.append(
                    (("smtp", other), f"is missing: smtp.{given} is set, give both or neither")
                )
    return found


# --- environment references --------------------------------------------------------------


def _resolve_env(
    node: Any,
    environ: Mapping[str, str],
    parts: Parts,
    found: list[tuple[Parts, str]],
    sourced: dict[Parts, str],
) -> Any:
    if isinstance(node, dict):
        return {k: _resolve_env(v, environ, (*parts, k), found, sourced) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_env(v, environ, (*parts, i), found, sourced) for i, v in enumerate(node)]
    if not (isinstance(node, str) and node.startswith("env:")):
        return node
    name = node[4:]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        found.append((parts, f'"env:" must be followed by a variable name; got {_q(node)}'))
    elif not environ.get(name):
        state = "is empty" if name in environ else "is not set"
        found.append(
            (
                parts,
                f"the environment variable {name} {state} (this key is written {_q(node)}); "
                "set it before starting rulewatch, or write the value here",
            )
        )
    else:
        sourced[parts] = name
        return environ[name]
    return node


# --- where keys are in the file ----------------------------------------------------------

_KEY_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*""")


def _read_key(text: str, pos: int) -> tuple[list[str], int] | None:
    parts: list[str] = []
    while match := _KEY_PART.match(text, pos):
        bare, basic, literal = match.groups()
        if basic is not None:
            with contextlib.suppress(ValueError):
                basic = json.loads(f'"{basic}"')
        parts.append(next(p for p in (bare, basic, literal) if p is not None))
        pos = match.end()
        if not text.startswith(".", pos):
            return parts, pos
        pos += 1
    return None


_STRING_OR_COMMENT = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'|#.*""")


def _bracket_balance(text: str) -> int:
    bare = _STRING_OR_COMMENT.sub("", text)
    return bare.count("[") - bare.count("]")


class _KeyLines:
    """Line numbers of keys and table headers, found by scanning the TOML text.

    tomllib keeps no positions, so this follows the grammar just far enough: table and
    array-of-tables headers (counting each array's entries), ``key =`` lines, and
    multi-line strings, whose content must not be read as keys.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[Parts, int] = {}
        self.duplicate: tuple[Parts, int] | None = None
        arrays: dict[Parts, int] = {}  # array-of-tables path -> index of its current entry
        table: Parts = ()
        closing: str | None = None  # delimiter of an open multi-line string
        depth = 0  # of an open multi-line array, whose lines hold values, not keys
        for number, line in enumerate(text.splitlines(), start=1):
            if closing is not None:
                if line.count(closing) % 2:
                    closing = None
                continue
            if depth > 0:
                depth += _bracket_balance(line)
                continue
            stripped = line.lstrip()
            is_array = stripped.startswith("[[")
            if stripped.startswith("["):
                key = _read_key(stripped, 2 if is_array else 1)
                if key is None:
                    continue
                path = self._resolve(key[0][:-1] if is_array else key[0], arrays)
                if is_array:
                    path = (*path, key[0][-1])
                    arrays[path] = arrays.get(path, -1) + 1
                    self.lines.setdefault(path, number)
                    path = (*path, arrays[path])
                table = path
                self.lines.setdefault(table, number)
                continue
            key = _read_key(line, 0)
            if key is None or not line.startswith("=", key[1]):
                continue
            path = (*table, *key[0])
            if path in self.lines and self.duplicate is None:
                self.duplicate = (path, number)
            self.lines.setdefault(path, number)
            for delimiter in ('"""', "'''"):
                if line.count(delimiter) % 2:
                    closing = delimiter
                    break
            else:
                depth = _bracket_balance(line[key[1] + 1 :])

    @staticmethod
    def _resolve(names: list[str], arrays: Mapping[Parts, int]) -> Parts:
        # [channels.headers] after [[channels]] belongs to the latest channels entry.
        path: Parts = ()
        for name in names:
            path = (*path, name)
            if path in arrays:
                path = (*path, arrays[path])
        return path

    def line_of(self, parts: Parts) -> int | None:
        """The line of ``parts``, else of its nearest enclosing key or table, else None."""
        for end in range(len(parts), 0, -1):
            if parts[:end] in self.lines:
                return self.lines[parts[:end]]
        return None


# --- turning pydantic errors into problems -----------------------------------------------

_PLAIN_MESSAGES = {
    "string_type": "should be a string (in quotes)",
    "int_type": "should be a whole number",
    "float_type": "should be a number",
    "bool_type": "should be true or false",
    "list_type": 'should be an array, e.g. ["a", "b"]',
    "dict_type": "should be a table",
    "model_type": "should be a table",
    "date_type": "should be a date, e.g. 2024-03-01",
    "time_type": 'should be a time of day, e.g. "09:00"',
}


def _format_parts(parts: Parts) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{name}" if out else name
    return out


def _strip(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        args = [a for a in get_args(annotation) if a is not type(None)]
        if origin is Annotated or (origin in (Union, types.UnionType) and len(args) == 1):
            annotation = args[0]
        else:
            return annotation


def _annotation_at(parts: Parts, raw: Any) -> Any:
    """The type expected at ``parts``; a channel's model is chosen by its ``kind``."""
    annotation: Any = Settings
    node = raw
    for part in parts:
        annotation = _pick(annotation, node)
        if isinstance(part, int) and get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {f.alias or n: f for n, f in annotation.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return _pick(annotation, node)


def _pick(annotation: Any, node: Any) -> Any:
    annotation = _strip(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        kind = node.get("kind") if isinstance(node, dict) else None
        return CHANNEL_MODELS.get(kind) if isinstance(kind, str) else None
    return annotation


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = redact_url(value)
        return json.dumps(shown if len(shown) <= 80 else shown[:77] + "...", ensure_ascii=False)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime):
        return f"the date-time {value.isoformat()}"
    if isinstance(value, date | time):
        return value.isoformat()
    return repr(value)


def _translate(
    error: Mapping[str, Any], raw: Mapping[str, Any], sourced: Mapping[Parts, str]
) -> tuple[Parts, str]:
    # The discriminated union adds the channel kind to the location; the user never wrote it.
    loc = [p for p in error["loc"] if p != "[key]"]
    parts: Parts = tuple(
        p
        for i, p in enumerate(loc)
        if not (i == 2 and loc[0] == "channels" and isinstance(p, str) and p in CHANNEL_MODELS)
    )
    kind, value = error["type"], error.get("input")
    kinds = ", ".join(CHANNEL_MODELS)
    if kind == "extra_forbidden":
        model = _annotation_at(parts[:-1], raw)
        allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
        close = difflib.get_close_matches(str(parts[-1]), allowed, n=1)
        hint = f"did you mean {_q(close[0])}? " if close else ""
        return parts, f"unknown key; {hint}allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return parts, "is required but missing"
    if kind == "union_tag_not_found":
        return (*parts, "kind"), f"is required but missing; one of: {kinds}"
    if kind == "union_tag_invalid":
        given = _describe(value.get("kind")) if isinstance(value, dict) else "?"
        return (
            *parts,
            "kind",
        ), f"is not a channel kind rulewatch knows; one of: {kinds}; got {given}"
    if kind in ("rulewatch_shown", "too_short"):
        message = str(error["msg"])
        if kind == "too_short":
            message = "cannot be empty" if not value else message.replace("List should", "should")
        return parts, message
    if kind == "rulewatch":
        message = str(error["msg"])
    elif kind == "literal_error":
        message = "should be " + str(error["ctx"]["expected"]).replace("'", '"')
    else:
        message = _PLAIN_MESSAGES.get(kind) or str(error["msg"]).replace("Input should", "should")
    if parts in sourced:
        return parts, f"{message}; got the value of ${sourced[parts]} (not shown)"
    if _annotation_at(parts, raw) is SecretStr:
        return parts, message
    return parts, f"{message}; got {_describe(value)}"


# --- loading -----------------------------------------------------------------------------


def resolve_config_path(cli_value: Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The config file to read: ``--config``, else $RULEWATCH_CONFIG, else ./config.toml."""
    if cli_value is not None:
        return cli_value
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG


def load_settings(path: Path, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read and validate the config file at ``path``.

    Raises ConfigError when the file is missing or unreadable, is not valid TOML, or holds
    values that do not validate; the error lists every problem, each with its key and line.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                ConfigProblem(
                    str(path),
                    "",
                    "no config file here; create it (the config.toml in the rulewatch "
                    "repository is a working example, docs/configuration.md lists every key) "
                    f"or name another file with --config or ${CONFIG_ENV}",
                )
            ]
        ) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigProblem(str(path), "", "is not UTF-8 text, which TOML requires", line)]
        ) from exc
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), "", f"cannot be read: {exc.strerror}")]
        ) from exc
    return parse_settings(text, path=path, environ=environ)


def parse_settings(text: str, *, path: Path, environ: Mapping[str, str] = os.environ) -> Settings:
    """Validate ``text`` as the config file ``path`` (whose folder anchors relative paths).

    Raises ConfigError listing every problem found.
    """
    where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(where, str(exc), _KeyLines(text))]) from exc
    lines = _KeyLines(text)
    found: list[tuple[Parts, str]] = []
    sourced: dict[Parts, str] = {}
    data = _resolve_env(data, environ, (), found, sourced)
    unresolved = [parts for parts, _ in found]
    found += _cross_check(data)
    context = {"base_dir": path.parent.absolute(), "cross_checked": True}
    cause: ValidationError | None = None
    try:
        settings = Settings.model_validate(data, context=context)
    except ValidationError as exc:
        cause = exc
        for error in exc.errors(include_url=False):
            parts, message = _translate(error, data, sourced)
            # An unresolved env: reference already has its own, clearer problem.
            if not any(parts[: len(u)] == u for u in unresolved):
                found.append((parts, message))
    if found:
        problems = {
            ConfigProblem(where, _format_parts(parts), message, lines.line_of(parts)): None
            for parts, message in found
        }
        ordered = sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.key))
        raise ConfigError(ordered) from cause
    settings._path = path
    return settings


def _syntax_problem(where: str, message: str, lines: _KeyLines) -> ConfigProblem:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        detail = f"{message[: match.start()]} (column {match[2]})"
        return ConfigProblem(where, "", f"TOML syntax error: {detail}", int(match[1]))
    if lines.duplicate is not None:
        parts, line = lines.duplicate
        return ConfigProblem(
            where, _format_parts(parts), "TOML syntax error: this key is given twice", line
        )
    return ConfigProblem(where, "", f"TOML syntax error: {message}")
