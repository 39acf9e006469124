"""The value types of config.toml's keys: how each is checked and parsed, and how it is shown.

Each type is an ``Annotated`` alias whose validator raises ``invalid(message)``, a pydantic
error whose message is already the finished sentence; ``alerts.config.problems`` puts the key
path in front and the given value after it (unless ``shows_value`` says it is already
there). The other direction, ``url_masked`` and ``shown``, turns a value back into text that
is safe to print: secrets as ``***``, URLs without their userinfo and query values.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import warnings
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_core import PydanticCustomError

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


def invalid(message: str, *, shows_value: bool = False) -> PydanticCustomError:
    """The error a validator raises: ``message`` is complete and is shown as written."""
    # "rulewatch" errors get the given value appended when shown; a message that already
    # names the value says so, to not repeat it.
    return PydanticCustomError("rulewatch_shown" if shows_value else "rulewatch", message)


def quote(value: object) -> str:
    """``value`` quoted as TOML writes a string."""
    return json.dumps(value, ensure_ascii=False)


# --- checked and parsed ------------------------------------------------------------------


def _non_empty(value: str) -> str:
    if not value.strip():
        raise invalid("cannot be empty")
    return value.strip()


def _check_name(value: str) -> str:
    value = _non_empty(value)
    if len(value) > 64:
        raise invalid(f"is {len(value)} characters long; names have at most 64")
    return value


Text = Annotated[str, AfterValidator(_non_empty)]
Name = Annotated[str, AfterValidator(_check_name)]


def _check_lead_days(value: list[int]) -> list[int]:
    for day in value:
        if value.count(day) > 1:
            raise invalid(
                f"{day} is listed more than once; give each lead time once", shows_value=True
            )
    # Largest first, the order reminders go out in.
    return sorted(value, reverse=True)


LeadDays = Annotated[list[Annotated[int, Field(ge=0)]], AfterValidator(_check_lead_days)]


def _check_regex(value: str) -> str:
    try:
        with warnings.catch_warnings():
            # "Possible set intersection" and the like: Python reads the pattern one way today
            # and says a later version will read it another; a watch must not change meaning.
            warnings.simplefilter("error", FutureWarning)
            re.compile(value)
    except re.error as exc:
        raise invalid(
            f"the pattern {quote(value)} does not compile: {exc}", shows_value=True
        ) from None
    except FutureWarning as exc:
        raise invalid(
            f"the pattern {quote(value)} may mean something else in a later Python ({exc}); "
            "escape the character it names with a backslash",
            shows_value=True,
        ) from None
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]


def _parse_time(value: object) -> object:
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
        raise invalid('is not a time of day; write "HH:MM" from "00:00" to "23:59"')
    return value  # a TOML time passes; anything else gets pydantic's type error


TimeOfDay = Annotated[time, BeforeValidator(_parse_time)]


def _parse_date(value: object) -> object:
    if isinstance(value, datetime):
        raise invalid("give a date without a time of day, e.g. 2024-03-01")
    if isinstance(value, str):
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise invalid("is not a date; write a TOML date such as 2024-03-01")
    return value


OptionalDate = Annotated[date | None, BeforeValidator(_parse_date)]
Day = Annotated[date, BeforeValidator(_parse_date)]

_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def _parse_duration(value: object) -> object:
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().upper())
        if not match or value.strip().upper() == "P":
            raise invalid('is not an ISO 8601 duration; write e.g. "PT1H", "PT30M" or "P1D"')
        value = timedelta(**{k: int(v) for k, v in match.groupdict().items() if v})
    if isinstance(value, timedelta) and value < timedelta(minutes=1):
        raise invalid("must be at least one minute")
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


def _check_token(value: SecretStr | None) -> SecretStr | None:
    # The feed token travels in a URL path, so it must be URL-safe as written.
    if value is not None and not re.fullmatch(r"[A-Za-z0-9._~-]{16,}", value.get_secret_value()):
        raise invalid(
            "must be at least 16 characters from A-Z a-z 0-9 . _ ~ -; "
            'e.g. python -c "import secrets; print(secrets.token_urlsafe(24))"'
        )
    return value


Token = Annotated[SecretStr | None, AfterValidator(_check_token)]


def _check_session_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value()) < 32:
        raise invalid(
            'must be at least 32 characters; e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(32))"'
        )
    return value


SessionSecret = Annotated[SecretStr | None, AfterValidator(_check_session_secret)]


def split_listen(value: str) -> tuple[str, int]:
    """``"host:port"`` as host (an IPv6 address without brackets) and port."""
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", value)
    if not match or not 1 <= int(match[2]) <= 65535:
        raise invalid('must be "host:port" with a port from 1 to 65535, e.g. "127.0.0.1:8080"')
    host = match[1]
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise invalid(f"{quote(host)} is not an IPv6 address", shows_value=True) from None
    return host, int(match[2])


def resolve_database(value: str, base_dir: Path) -> str:
    """The database URL as SQLAlchemy should get it; a relative SQLite file is anchored
    in ``base_dir``."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise invalid(
            'is not a database URL; write "sqlite:///rulewatch.db" or '
            '"postgresql+psycopg://user@host/dbname"'
        )
    if scheme not in DATABASE_SCHEMES:
        raise invalid(
            f"the scheme {quote(scheme)} is not supported; use {', '.join(DATABASE_SCHEMES)}"
        )
    if scheme == "postgresql":
        # SQLAlchemy reads a bare postgresql:// as psycopg2, which rulewatch does not install.
        scheme = "postgresql+psycopg"
    if scheme != "sqlite":
        if not rest:
            raise invalid("the URL names no server or database")
        return f"{scheme}://{rest}"
    if rest == "" or rest.startswith("/:memory:"):
        return value
    if not rest.startswith("/"):
        raise invalid(
            'a SQLite URL has three slashes before a relative path ("sqlite:///rulewatch.db") '
            'and four before an absolute one ("sqlite:////var/lib/rulewatch.db")'
        )
    file, question, query = rest[1:].partition("?")
    if not file:
        raise invalid("the SQLite URL names no file")
    # Relative to the config file, not the working directory: cron and systemd start elsewhere.
    absolute = os.path.normpath(base_dir / Path(file).expanduser())
    return f"sqlite:///{absolute}{question}{query}"


# --- shown -------------------------------------------------------------------------------


def url_masked(value: str) -> str:
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


def _iso_duration(value: timedelta) -> str:
    minutes, seconds = divmod(value.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    days = f"{value.days}D" if value.days else ""
    return f"P{days}T{clock}" if clock else f"P{days or '0D'}"


def shown(value: Any) -> Any:
    """A dumped setting as a plain TOML-like value, safe to print: secrets are "***", URLs
    are redacted, times, dates and durations are written as config.toml takes them."""
    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, str):
        return url_masked(value)
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v) for v in value]
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(value)
    return value
