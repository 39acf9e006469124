"""Tests for alerts/config/__init__.py and the channel config models it validates through."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, get_args

import hypothesis
import pytest
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, ValidationError

from alerts.config import (
    Settings,
    load_settings,
    parse_settings,
    resolve_config_path,
    url_masked,
)
from alerts.errors import ConfigError, ConfigProblem
from alerts.sources import SOURCES, SourceConfig
from notifiers import CHANNEL_MODELS, WebhookChannel

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "config.toml"
DOCS = REPO / "docs" / "configuration.md"

# 24 random bytes, base64: a valid Standard Webhooks secret.
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KINDS = "webhook, email, dingtalk, wecom, feishu, lark, slack"
HOOK = '[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "http://127.0.0.1:9000/x"\n'
WATCH = '[[watch]]\nname = "w"\nrules = ["1688商家发货行为管理规范"]\n'


@pytest.fixture
def write(tmp_path: Path):
    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={} if environ is None else environ)
    return caught.value.problems


# --- the shipped example -----------------------------------------------------------------


def test_shipped_config_loads_without_environment_variables():
    settings = load_settings(SHIPPED, environ={})
    assert settings.path == SHIPPED
    assert settings.service.database == f"sqlite:///{REPO}/rulewatch.db"
    assert settings.service.tz.key == "Asia/Shanghai"
    assert (settings.service.listen_host, settings.service.listen_port) == ("127.0.0.1", 8080)
    watched = {rule for watch in settings.watches for rule in watch.rules}
    assert {"1688商家发货行为管理规范", "1688商家服务管理规范", "1688直播平台管理规范"} <= watched
    assert any(w.platforms or w.keywords for w in settings.watches)
    assert [(c.name, c.kind) for c in settings.channels] == [("ops-hook", "webhook")]
    assert settings.calendar.refresh == timedelta(hours=1)


def _uncomment_examples(text: str) -> str:
    # The commented-out lines are documentation too: with their variables set they must load.
    # Watch-level alternatives (channels, lead_days) would repeat a key, so they stay comments.
    example = re.compile(r"^# ?((\[\[channels\]\]|\[smtp\])|(?!channels|lead_days)[a-z_]+ = .*)$")
    return "\n".join(
        example.sub(r"\1", line) if example.match(line) else line for line in text.splitlines()
    )


def test_shipped_config_commented_examples_load_with_their_variables(write):
    path = write(_uncomment_examples(SHIPPED.read_text(encoding="utf-8")))
    environ = {
        "RULEWATCH_HOOK_SECRET": WHSEC,
        "RULEWATCH_HOOK_AUTH": "Bearer abc",
        "RULEWATCH_SMTP_PASSWORD": "pw",
        "RULEWATCH_FEED_TOKEN": "feed-token-0123456789",
        "RULEWATCH_API_TOKEN": "api-token-0123456789",
    }
    settings = load_settings(path, environ=environ)
    assert [c.kind for c in settings.channels] == ["webhook", "email"]
    assert settings.smtp is not None and settings.smtp.sender.startswith("rulewatch")
    assert settings.api.token is not None and settings.calendar.token is not None
    for name in environ:
        with pytest.raises(ConfigError, match=name):
            load_settings(path, environ={k: v for k, v in environ.items() if k != name})


# --- one bad config, one message ---------------------------------------------------------

DROP = '[[sources]]\nname = "drop"\nkind = "folder"\npath = "d"\n'
BAD = [
    pytest.param('[servce]\ntimezone = "UTC"\n', {}, "servce", 1, 'did you mean "service"',
                 id="unknown-top-level-key"),
    pytest.param('[service]\ntimzone = "UTC"\n', {}, "service.timzone", 2,
                 'did you mean "timezone"', id="unknown-nested-key"),
    pytest.param(HOOK + 'secrte = "x"\n', {}, "channels[0].secrte", 5, 'did you mean "secret"',
                 id="unknown-channel-key"),
    pytest.param('[[watches]]\nname = "w"\n', {}, "watches", 1, 'did you mean "watch"',
                 id="unknown-array-of-tables"),
    pytest.param('[reminders]\nmax_attempts = "8"\n', {}, "reminders.max_attempts", 2,
                 'whole number; got "8"', id="bad-type-string-for-int"),
    pytest.param('[reminders]\nlead_days = [7, "1"]\n', {}, "reminders.lead_days[1]", 2,
                 "whole number", id="bad-type-list-element"),
    pytest.param(WATCH + "lead_days = [7, 1, -1]\n", {}, "watch[0].lead_days[2]", 4,
                 "greater than or equal to 0; got -1", id="negative-lead-day"),
    pytest.param("[reminders]\nlead_days = [7, 1, 7]\n", {}, "reminders.lead_days", 2,
                 "7 is listed more than once", id="duplicate-lead-day"),
    pytest.param("[reminders]\n\nat = true\n", {}, "reminders.at", 3, "got true",
                 id="bad-type-bool"),
    pytest.param('[service]\ntimezone = "Asia/Shanghia"\n', {}, "service.timezone", 2,
                 'not a known time zone; use an IANA name such as "Asia/Shanghai"',
                 id="bad-time-zone"),
    pytest.param(WATCH + 'since = "yesterday"\n', {}, "watch[0].since", 4,
                 'is not a date; write a TOML date such as 2024-03-01; got "yesterday"',
                 id="bad-date-string"),
    pytest.param(WATCH + "since = 2024-03-01T10:00:00\n", {}, "watch[0].since", 4,
                 "without a time of day", id="date-time-for-date"),
    pytest.param(WATCH + "since = 2024-02-30\n", {}, "", 4, "TOML syntax error: Invalid date",
                 id="invalid-toml-date"),
    pytest.param('[reminders]\nat = "25:00"\n', {}, "reminders.at", 2,
                 'not a time of day; write "HH:MM" from "00:00" to "23:59"; got "25:00"',
                 id="bad-time"),
    pytest.param('[reminders]\nshift = "weekends"\n', {}, "reminders.shift", 2,
                 'should be "none" or "previous_workday"; got "weekends"', id="bad-shift"),
    pytest.param(HOOK + 'secret = "env:HOOK_SECRET"\n', {}, "channels[0].secret", 5,
                 "environment variable HOOK_SECRET is not set", id="missing-env-secret"),
    pytest.param(HOOK + 'secret = "env:HOOK_SECRET"\n', {"HOOK_SECRET": ""},
                 "channels[0].secret", 5, "HOOK_SECRET is empty", id="empty-env-secret"),
    pytest.param(HOOK + 'secret = "env:1HOOK"\n', {}, "channels[0].secret", 5,
                 '"env:" must be followed by a variable name', id="bad-env-name"),
    pytest.param(HOOK.replace("http://127.0.0.1:9000/x", "127.0.0.1:9000/x"), {},
                 "channels[0].url", 4, "must be an http:// or https:// URL", id="url-no-scheme"),
    pytest.param(HOOK.replace("9000", "90000"), {}, "channels[0].url", 4,
                 "port in the URL", id="url-bad-port"),
    pytest.param('[service]\nbase_url = "https://"\n', {}, "service.base_url", 2,
                 "the URL has no host", id="base-url-no-host"),
    pytest.param('[service]\ndatabase = "mysql://localhost/rw"\n', {}, "service.database", 2,
                 '"mysql" is not supported; use sqlite, postgresql, postgresql+psycopg',
                 id="bad-database-scheme"),
    pytest.param('[service]\ndatabase = "rulewatch.db"\n', {}, "service.database", 2,
                 "is not a database URL", id="database-not-a-url"),
    pytest.param('[service]\ndatabase = "sqlite://rulewatch.db"\n', {}, "service.database", 2,
                 "three slashes", id="sqlite-two-slashes"),
    pytest.param('[service]\nlisten = "8080"\n', {}, "service.listen", 2, '"host:port"',
                 id="bad-listen"),
    pytest.param('[service]\nlisten = "[1::2::3]:8080"\n', {}, "service.listen", 2,
                 "not an IPv6 address", id="bad-listen-ipv6"),
    pytest.param(WATCH + 'channels = ["hok"]\n' + HOOK, {}, "watch[0].channels[0]", 4,
                 'no [[channels]] entry is named "hok"; did you mean "hook"?',
                 id="unknown-channel-referenced"),
    pytest.param(WATCH + 'channels = ["hook"]\n', {}, "watch[0].channels[0]", 4,
                 "(defined: none)", id="channel-referenced-none-defined"),
    pytest.param(WATCH + WATCH, {}, "watch[1].name", 5, '"w" is already the name of watch[0]',
                 id="duplicate-watch-name"),
    pytest.param(HOOK + HOOK, {}, "channels[1].name", 6,
                 '"hook" is already the name of channels[0]', id="duplicate-channel-name"),
    pytest.param(WATCH + 'regex = ["发货", "(规范"]\n', {}, "watch[0].regex[1]", 4,
                 'the pattern "(规范" does not compile: missing )', id="bad-regex"),
    # Python reads [a&&b] as a set of characters today and warns it may not tomorrow.
    pytest.param(WATCH + 'regex = ["[发货&&退款]"]\n', {}, "watch[0].regex[0]", 4,
                 "may mean something else in a later Python", id="regex-future-meaning"),
    pytest.param('[[watch]]\nname = "w"\ntags = ["x"]\n', {}, "watch[0]", 1,
                 "selects nothing: give rules, platforms, keywords or regex",
                 id="watch-selects-nothing"),
    pytest.param('[[watch]]\nrules = ["x"]\n', {}, "watch[0].name", 1, "required but missing",
                 id="watch-missing-name"),
    pytest.param(WATCH + 'rules = [""]\n', {}, "", 4, "Cannot overwrite",
                 id="toml-key-given-twice"),
    pytest.param(f'[[watch]]\nrules = ["r"]\nname = "{"长" * 65}"\n', {}, "watch[0].name", 3,
                 "is 65 characters long; names have at most 64", id="watch-name-too-long"),
    pytest.param(HOOK.replace('"hook"', f'"{"h" * 65}"'), {}, "channels[0].name", 2,
                 "should have at most 64 characters", id="channel-name-too-long"),
    pytest.param('[[watch]]\nname = "w"\nrules = [" "]\n', {}, "watch[0].rules[0]", 3,
                 "cannot be empty", id="empty-rule-name"),
    pytest.param(HOOK + 'secret = "s3cr3t-value"\n', {}, "channels[0].secret", 5,
                 'must be written "whsec_<base64>"', id="whsec-missing-prefix"),
    pytest.param(HOOK + 'secret = "whsec_not*base64"\n', {}, "channels[0].secret", 5,
                 'the part after "whsec_" is not valid base64', id="whsec-bad-base64"),
    pytest.param(HOOK + 'secret = "whsec_c2hvcnQ="\n', {}, "channels[0].secret", 5,
                 "decodes to 5 bytes; use at least 24", id="whsec-too-short"),
    pytest.param(HOOK + 'headers = { "webhook-id" = "x" }\n', {}, "channels[0].headers", 5,
                 "set by rulewatch itself", id="reserved-header"),
    pytest.param(HOOK + "timeout = 0\n", {}, "channels[0].timeout", 5, "greater than 0",
                 id="zero-timeout"),
    pytest.param('[[channels]]\nname = 1\nkind = "webhook"\nurl = "http://h"\n', {},
                 "channels[0].name", 2, "string (in quotes); got 1", id="channel-name-not-string"),
    pytest.param('[[channels]]\nname = "m"\nkind = "pager"\n', {}, "channels[0].kind", 3,
                 f'one of: {KINDS}; got "pager"', id="unknown-channel-kind"),
    # Found by the fuzz test below: the mention check hashed whatever kind was written.
    pytest.param('[[channels]]\nname = "m"\nkind = ["webhook"]\n', {}, "channels[0].kind", 3,
                 f"one of: {KINDS}; got an array", id="channel-kind-an-array"),
    pytest.param('[[channels]]\nname = "m"\n', {}, "channels[0].kind", 1,
                 f"required but missing; one of: {KINDS}", id="missing-channel-kind"),
    pytest.param('[[channels]]\nname = "m"\nkind = "email"\nto = ["a@example.com"]\n', {},
                 "channels[0]", 1, 'email channel "m" needs an [smtp] section',
                 id="email-without-smtp"),
    pytest.param('[[channels]]\nname = "m"\nkind = "email"\nto = []\n'
                 '[smtp]\nhost = "h"\nfrom = "a@example.com"\n', {}, "channels[0].to", 4,
                 "cannot be empty", id="email-to-empty"),
    pytest.param('[[channels]]\nname = "m"\nkind = "email"\nto = ["ops", "a@example.com"]\n'
                 '[smtp]\nhost = "h"\nfrom = "a@example.com"\n', {}, "channels[0].to[0]", 4,
                 'is not an email address; write "user@example.com"', id="email-bad-address"),
    pytest.param('[smtp]\nhost = "h"\nfrom = "a@example.com"\nusername = "u"\n', {},
                 "smtp.password", 1, "smtp.username is set, give both or neither",
                 id="smtp-username-without-password"),
    pytest.param('[smtp]\nfrom = "a@example.com"\n', {}, "smtp.host", 1, "required",
                 id="smtp-missing-host"),
    pytest.param('[smtp]\nhost = "h"\nfrom = "a@example.com"\nsecurity = "ssl"\n', {},
                 "smtp.security", 4, '"starttls", "tls" or "none"', id="smtp-bad-security"),
    pytest.param('[calendar]\nrefresh = "1 hour"\n', {}, "calendar.refresh", 2,
                 'not an ISO 8601 duration; write e.g. "PT1H"', id="bad-duration"),
    pytest.param('[calendar]\nrefresh = "PT30S"\n', {}, "calendar.refresh", 2,
                 "at least one minute", id="duration-too-short"),
    pytest.param('[api]\ntoken = "short"\n', {}, "api.token", 2, "at least 16 characters",
                 id="api-token-too-short"),
    pytest.param("[api]\nmax_body_bytes = 10\n", {}, "api.max_body_bytes", 2,
                 "greater than or equal to 1024", id="body-limit-too-small"),
    pytest.param('[service]\ntimezone = "UTC"\n\nlisten = "127.0.0.1:8080"\n[[watch\n', {}, "",
                 5, "TOML syntax error", id="toml-syntax-error"),
    pytest.param(DROP.replace("folder", "ftp"), {}, "sources[0].kind", 3,
                 'is not a source kind rulewatch knows; one of: ', id="source-bad-kind"),
    pytest.param(DROP + "\n" + DROP, {}, "sources[1].name", 7,
                 '"drop" is already the name of sources[0]', id="source-same-name"),
    pytest.param(DROP.replace('path = "d"', 'path = "d"\nevery = "90s"'), {},
                 "sources[0].every", 5, 'write minutes, hours or days: "30m"', id="source-every"),
    pytest.param(DROP.replace('path = "d"', 'path = "d"\nevery = 30'), {},
                 "sources[0].every", 5, 'is a number without a unit; write "30m"',
                 id="source-every-number"),
    pytest.param(DROP.replace('path = "d"', 'path = "d"\nencoding = "rot13"'), {},
                 "sources[0].encoding", 5, "is not a text encoding", id="source-codec"),
    pytest.param(DROP.replace('path = "d"', 'path = "d"\nplatform = "Etsy"'), {},
                 "sources[0].platform", 5, "is not a platform rulewatch knows",
                 id="source-platform"),
    pytest.param(DROP.replace('path = "d"', 'path = "d"\npth = "e"'), {},
                 "sources[0].pth", 5, 'did you mean "path"', id="source-typo"),
    pytest.param('[service]\nadmin_channel = "ops"\n', {}, "service.admin_channel", 2,
                 'no [[channels]] entry is named "ops"', id="admin-channel-unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "environ", "key", "line", "message"), BAD)
def test_bad_config_names_file_key_line_and_problem(write, text, environ, key, line, message):
    path = write(text)
    problems = problems_of(path, environ)
    assert len(problems) == 1, problems
    (problem,) = problems
    assert (problem.path, problem.key, problem.line) == (str(path), key, line)
    assert message in problem.message
    assert str(problem).startswith(f"{path}:{line}:")


def test_every_problem_in_one_file_is_reported(write):
    path = write(
        '[service]\ntimezone = "Nowhere/City"\n'
        '[reminders]\nat = "9h"\n'
        '[[watch]]\nname = "w"\nrules = ["r"]\nchannels = ["nope"]\nregex = ["["]\n'
        '[[channels]]\nname = "m"\nkind = "email"\nto = ["x@example.com"]\nbogus = 1\n'
    )
    problems = problems_of(path)
    assert [(p.key, p.line) for p in problems] == [
        ("service.timezone", 2),
        ("reminders.at", 4),
        ("watch[0].channels[0]", 8),
        ("watch[0].regex[0]", 9),
        ("channels[0]", 10),
        ("channels[0].bogus", 14),
    ]
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert len(str(caught.value).splitlines()) == 6


def test_an_unresolved_env_reference_is_reported_once(write):
    # Not also as "not whsec_": the value was never known.
    path = write(
        HOOK + 'secret = "env:NOPE"\n[[channels]]\nname = "m"\nkind = "email"\n'
        'to = ["env:OPS_MAIL"]\n[smtp]\nhost = "h"\nfrom = "a@example.com"\n'
    )
    assert [p.key for p in problems_of(path)] == ["channels[0].secret", "channels[1].to[0]"]


# --- secrets -----------------------------------------------------------------------------

SECRET = "Sup3rS3cretValue-do-not-print"


@pytest.mark.parametrize(
    ("text", "environ"),
    [
        pytest.param(HOOK + f'secret = "{SECRET}"\n', {}, id="literal-secret-bad-form"),
        pytest.param(HOOK + 'secret = "env:S"\n', {"S": SECRET}, id="env-secret-bad-form"),
        pytest.param(HOOK + f'secrte = "{SECRET}"\n', {}, id="secret-under-a-misspelt-key"),
        pytest.param(
            f'[smtp]\nhost = "h"\nfrom = "a@example.com"\npassword = "{SECRET}"\n',
            {},
            id="password-without-username",
        ),
        pytest.param('[api]\ntoken = "env:T"\n', {"T": SECRET + " !"}, id="bad-api-token"),
        pytest.param(f'[calendar]\ntoken = "{SECRET}!"\n', {}, id="bad-feed-token"),
        pytest.param(HOOK + 'headers = { X = "env:H" }\n', {"H": f"{SECRET}\n"},
                     id="header-value"),
        pytest.param(f'[service]\ndatabase = "mysql://u:{SECRET}@h/db"\n', {},
                     id="database-password"),
        pytest.param('[service]\ndatabase = "env:DB"\n', {"DB": f"sqlite:{SECRET}"},
                     id="env-database"),
        pytest.param(HOOK.replace("http://127.0.0.1:9000/x", f"ftp://h/x?token={SECRET}"), {},
                     id="webhook-url-token"),
        pytest.param(f'[service]\nbase_url = "ftp://u:{SECRET}@h"\n', {}, id="base-url-userinfo"),
    ],
)  # fmt: skip
def test_secret_values_never_appear_in_errors(write, text, environ):
    path = write(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ)
    assert caught.value.problems
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.problems)


def test_secret_values_never_appear_in_repr_or_redacted(write):
    path = write(
        '[service]\ndatabase = "env:DB"\n'
        + WATCH
        + 'channels = ["hook", "mail"]\n'
        + HOOK.replace("/x", "/x?access_token=env")
        + 'secret = "env:HOOK"\nheaders = { Authorization = "env:AUTH" }\n'
        '[[channels]]\nname = "mail"\nkind = "email"\nto = ["ops@example.com"]\n'
        '[smtp]\nhost = "smtp.example.com"\nusername = "u"\npassword = "env:PW"\n'
        'from = "rw <rw@example.com>"\n'
        '[calendar]\ntoken = "env:FEED"\n[api]\ntoken = "env:API"\n'
    )
    environ = {
        "DB": f"postgresql+psycopg://rw:{SECRET}@db.example/rw",
        "HOOK": WHSEC,
        "AUTH": f"Bearer {SECRET}",
        "PW": SECRET,
        "FEED": SECRET + "feed",
        "API": SECRET + "api",
    }
    settings = load_settings(path, environ=environ)
    for text in (repr(settings), str(settings), str(settings.redacted())):
        assert SECRET not in text
        assert WHSEC not in text
    shown = settings.redacted()
    assert shown["service"]["database"] == "postgresql+psycopg://***@db.example/rw"
    assert shown["channels"][0]["url"] == "http://127.0.0.1:9000/x?access_token=***"
    assert shown["channels"][0]["secret"] == "***"
    assert shown["channels"][0]["headers"] == {"Authorization": "***"}
    assert shown["smtp"]["password"] == "***" and shown["smtp"]["from"] == "rw <rw@example.com>"
    assert shown["calendar"]["token"] == shown["api"]["token"] == "***"
    assert shown["reminders"] == {"lead_days": [7, 1, 0], "at": "09:00", "shift": "none",
                                  "max_attempts": 8, "lease_seconds": 300.0,
                                  "stop_grace_seconds": 10.0}  # fmt: skip
    assert shown["calendar"]["refresh"] == "PT1H"


def test_env_references_are_resolved_from_the_given_environ(write):
    path = write(
        '[service]\ndatabase = "env:DB"\n'
        + HOOK
        + 'secret = "env:HOOK"\nheaders = { Authorization = "env:AUTH" }\n'
    )
    settings = load_settings(
        path, environ={"DB": "postgresql://rw@db/rw", "HOOK": WHSEC, "AUTH": "Bearer t"}
    )
    assert settings.service.database == "postgresql+psycopg://rw@db/rw"
    (hook,) = settings.channels
    assert isinstance(hook, WebhookChannel) and isinstance(hook.secret, SecretStr)
    assert hook.secret.get_secret_value() == WHSEC
    assert hook.headers["Authorization"].get_secret_value() == "Bearer t"
    assert hook.signing_keys() == [base64.b64decode(WHSEC.removeprefix("whsec_"))]


def test_settings_built_in_code_are_checked_and_hide_secrets():
    data: dict[str, Any] = {
        "watch": [{"name": "w", "rules": ["r"], "channels": ["missing"]}],
        "channels": [{"name": "h", "kind": "webhook", "url": "http://h", "secret": SECRET}],
    }
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(data)
    assert SECRET not in str(caught.value)
    del data["channels"][0]["secret"]
    with pytest.raises(ValidationError, match=r"watch\[0\].channels\[0\]: no \[\[channels\]\]"):
        Settings.model_validate(data)


# --- paths and defaults ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param(None, "sqlite:///{dir}/rulewatch.db", id="default"),
        pytest.param("sqlite:///data/rw.db", "sqlite:///{dir}/data/rw.db", id="relative"),
        pytest.param("sqlite:///../rw.db?mode=ro", "sqlite:///{parent}/rw.db?mode=ro",
                     id="relative-up-with-query"),
        pytest.param("sqlite:////var/lib/rw.db", "sqlite:////var/lib/rw.db", id="absolute"),
        pytest.param("sqlite://", "sqlite://", id="memory"),
        pytest.param("sqlite:///:memory:", "sqlite:///:memory:", id="memory-named"),
        pytest.param("postgresql://rw@127.0.0.1/rw", "postgresql+psycopg://rw@127.0.0.1/rw",
                     id="postgresql-gets-psycopg"),
        pytest.param("postgresql+psycopg://rw@db/rw", "postgresql+psycopg://rw@db/rw",
                     id="postgresql-psycopg"),
    ],
)  # fmt: skip
def test_database_url_is_resolved_beside_the_config_file(write, tmp_path, written, expected):
    text = "" if written is None else f'[service]\ndatabase = "{written}"\n'
    settings = load_settings(write(text, "etc/config.toml"), environ={})
    want = expected.format(dir=tmp_path / "etc", parent=tmp_path)
    assert settings.service.database == want


def test_an_empty_file_gives_the_documented_defaults(write, tmp_path):
    settings = load_settings(write(""), environ={})
    assert settings.service.timezone == "Asia/Shanghai"
    assert settings.service.base_url == "http://127.0.0.1:8080"
    assert settings.reminders.lead_days == [7, 1, 0]
    assert settings.reminders.at == time(9, 0)
    assert settings.reminders.shift == "none" and settings.reminders.max_attempts == 8
    assert settings.watches == [] and settings.channels == [] and settings.smtp is None
    assert settings.calendar.name == "平台规则生效日历" and settings.calendar.token is None
    assert settings.api.token is None and settings.api.max_body_bytes == 1024 * 1024


@pytest.mark.parametrize(
    ("listen", "base_url", "host", "port"),
    [
        pytest.param("0.0.0.0:9000", "http://127.0.0.1:9000", "0.0.0.0", 9000, id="any-v4"),
        pytest.param("[::]:9000", "http://[::1]:9000", "::", 9000, id="any-v6"),
        pytest.param("rw.internal:80", "http://rw.internal:80", "rw.internal", 80, id="name"),
    ],
)
def test_base_url_defaults_from_listen(write, listen, base_url, host, port):
    settings = load_settings(write(f'[service]\nlisten = "{listen}"\n'), environ={})
    assert settings.service.base_url == base_url
    assert (settings.service.listen_host, settings.service.listen_port) == (host, port)


def test_values_are_parsed_into_python_types(write):
    path = write(
        '[service]\nbase_url = "https://rules.example.com/"\n'
        "[reminders]\nlead_days = [0, 14, 3]\nat = 08:30:00\n"
        + WATCH
        + 'since = 2024-01-01\nlead_days = [1]\nregex = ["发货.*规范"]\n'
        '[smtp]\nhost = "h"\nsecurity = "tls"\nfrom = "a@example.com"\n'
        '[calendar]\nrefresh = "P1DT2H30M"\n'
    )
    settings = load_settings(path, environ={})
    assert settings.service.base_url == "https://rules.example.com"
    assert settings.reminders.lead_days == [14, 3, 0]
    assert settings.reminders.at == time(8, 30)
    (watch,) = settings.watches
    assert watch.since == date(2024, 1, 1)
    assert watch.lead_days == [1]
    assert watch.patterns()[0].search("1688商家发货行为管理规范")
    assert settings.smtp is not None and settings.smtp.port == 465
    assert settings.calendar.refresh == timedelta(days=1, hours=2, minutes=30)
    assert settings.redacted()["calendar"]["refresh"] == "P1DT2H30M"


def test_parse_settings_needs_no_file(tmp_path):
    settings = parse_settings('[service]\ntimezone = "UTC"\n', path=tmp_path / "x.toml", environ={})
    assert settings.service.tz.key == "UTC"
    assert settings.service.database == f"sqlite:///{tmp_path}/rulewatch.db"


def test_channels_are_found_by_name(write):
    settings = load_settings(write(HOOK), environ={})
    assert settings.channel("hook").kind == "webhook"
    with pytest.raises(KeyError):
        settings.channel("nope")


def test_a_missing_file_says_where_and_how_to_create_one(tmp_path):
    path = tmp_path / "nowhere" / "config.toml"
    (problem,) = problems_of(path)
    assert problem.path == str(path)
    assert "no config file here" in problem.message and "--config" in problem.message


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[service]\ntimezone = "\xff"\n')
    (problem,) = problems_of(path)
    assert (problem.line, problem.message) == (2, "is not UTF-8 text, which TOML requires")


@pytest.mark.parametrize(
    ("cli", "environ", "expected"),
    [
        pytest.param(Path("a.toml"), {"RULEWATCH_CONFIG": "b.toml"}, Path("a.toml"), id="cli"),
        pytest.param(None, {"RULEWATCH_CONFIG": "b.toml"}, Path("b.toml"), id="env"),
        pytest.param(None, {"RULEWATCH_CONFIG": ""}, Path("config.toml"), id="empty-env"),
        pytest.param(None, {}, Path("config.toml"), id="default"),
    ],
)
def test_resolve_config_path_precedence(cli, environ, expected):
    assert resolve_config_path(cli, environ) == expected


# --- finding lines -----------------------------------------------------------------------


def test_lines_are_found_through_subtables_strings_and_arrays(write):
    path = write(
        HOOK  # 1-4
        + HOOK.replace('"hook"', '"hook2"')  # 5-8
        + "[channels.headers]\n"  # 9: the headers of channels[1], not a new table
        + '"X Trace" = 1\n'  # 10
        + '[calendar]\ndescription = """\n'  # 11-12
        + 'refresh = "PT1H"\n'  # 13: text inside the string, not a key
        + '"""\n'  # 14
        + 'refresh = "1 hour"\n'  # 15
        + "[reminders]\nlead_days = [\n  [7],\n  1,\n]\n"  # 16-20: "[7]," is no header
        + 'at = "25:00"\n'  # 21
    )
    assert [(p.key, p.line) for p in problems_of(path)] == [
        ('channels[1].headers."X Trace"', 10),
        ("calendar.refresh", 15),
        ("reminders.lead_days[0]", 17),
        ("reminders.at", 21),
    ]


# --- pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("http://h/x", "http://h/x", id="plain"),
        pytest.param("https://u:p@h:1/x", "https://***@h:1/x", id="userinfo"),
        pytest.param("https://tok@h/x", "https://***@h/x", id="user-only"),
        pytest.param("https://h/x?access_token=t&a=", "https://h/x?access_token=***&a=***",
                     id="query"),
        pytest.param("https://h/x#frag", "https://h/x#***", id="fragment"),
        pytest.param("not a url", "not a url", id="not-a-url"),
    ],
)  # fmt: skip
def test_redact_url(url, shown):
    assert url_masked(url) == shown


def _sections() -> dict[str, type[BaseModel]]:
    sections: dict[str, type[BaseModel]] = {}
    for name, field in Settings.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        for arg in (annotation, *get_args(annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                sections[f"[{key}]"] = arg
    sections.update({f'kind = "{kind}"': model for kind, model in CHANNEL_MODELS.items()})
    sections["[[sources]]"] = SourceConfig
    sections.update({f'kind = "{kind}"': k.model for kind, k in SOURCES.items()})
    return sections


@pytest.mark.parametrize(
    ("heading", "model"), [pytest.param(h, m, id=h) for h, m in _sections().items()]
)
def test_docs_describe_every_key(heading, model):
    docs = DOCS.read_text(encoding="utf-8")
    # Each section of the docs starts with a heading naming the table or the channel kind.
    # Level-2+ headings only end a section: "# ..." lines inside TOML examples are comments.
    match = re.search(rf"^##+ .*{re.escape(heading)}.*$(?P<body>(?:\n(?!##+ ).*)*)", docs, re.M)
    assert match, f"docs/configuration.md has no section for {heading}"
    for name, field in model.model_fields.items():
        assert f"`{field.alias or name}`" in match["body"], f"{heading} {field.alias or name}"


# --- any input: a ConfigError or settings, never a crash ---------------------------------

_KEYS = sorted(
    {"kind", "name", "x"}
    | {k for m in _sections().values() for k in (f.alias or n for n, f in m.model_fields.items())}
)
_LEAF = st.one_of(
    st.sampled_from(
        ["webhook", "email", "w", "hook", "env:NOPE", "env:S", "http://h/x", "a@example.com",
         "09:00", "PT1H", "Asia/Shanghai", "sqlite:///x.db", WHSEC, "whsec_" + SECRET]
    ),
    st.text(max_size=8),
    st.integers(-2, 70_000),
    st.booleans(),
    st.dates(),
)  # fmt: skip


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | int):
        return str(value)
    return json.dumps(value)


_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner),
    max_leaves=12,
)
_TOP = st.dictionaries(
    st.sampled_from([*Settings.model_fields.keys(), "watch", "bogus"]), _VALUE, max_size=5
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(top=_TOP)
def test_any_input_loads_or_raises_config_error_without_secrets(top):
    text = "".join(f"{key} = {_toml(value)}\n" for key, value in top.items())
    from_env = "FromTheEnvironment-never-shown"
    try:
        parse_settings(text, path=Path("/tmp/c.toml"), environ={"S": from_env})
    except ConfigError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        assert from_env not in str(exc)
        # A secret written literally is hidden where a secret belongs; elsewhere it is
        # just a value in the wrong place, and is shown like any other.
        at_secret_keys = [
            p for p in exc.problems if re.search(r"(secret|password|token|headers.*)$", p.key)
        ]
        assert not any(SECRET in str(p) for p in at_secret_keys)


_FRAGMENTS = [
    *("[", "]", "[[", "]]", '"""', "'''", '"', "'", "=", " = ", ".", ",", "#", "\n", " "),
    *("a", "watch", "channels", "service", "name", "1", "{", "}", "\\", "env:S"),
]


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(text=st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
def test_any_text_loads_or_raises_config_error(text):
    try:
        parse_settings(text, path=Path("/tmp/c.toml"), environ={})
    except ConfigError as exc:
        assert exc.problems


ALL_FROM_ENV = """
[api]
token = "env:RW_API_TOKEN"

[calendar]
token = "env:RW_FEED_TOKEN"

[smtp]
host = "smtp.example.com"
username = "rw"
password = "env:RW_SMTP_PASSWORD"
from = "rw@example.com"

[[watch]]
name = "all"
platforms = ["淘宝"]
channels = ["hook", "mail"]

[[channels]]
name = "hook"
kind = "webhook"
url = "env:RW_HOOK_URL"
secret = "env:RW_HOOK_SECRET"
headers = { Authorization = "env:RW_HOOK_AUTH" }

[[channels]]
name = "mail"
kind = "email"
to = ["ops@example.com"]
"""


def test_commands_that_only_read_need_no_secret_set(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from alerts.cli import app

    for name in ("RW_API_TOKEN", "RW_FEED_TOKEN", "RW_SMTP_PASSWORD", "RW_HOOK_URL",
                 "RW_HOOK_SECRET", "RW_HOOK_AUTH"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path / "s.db"}"\n' + ALL_FROM_ENV, "utf-8"
    )
    runner = CliRunner()
    for command in (["changes"], ["rules"], ["ics"], ["reminders"]):
        done = runner.invoke(app, ["--config", str(path), *command])
        assert done.exit_code == 0, (command, done.output)
    checked = runner.invoke(app, ["--config", str(path), "check-config"])
    assert checked.exit_code == 2
    for name in ("RW_API_TOKEN", "RW_FEED_TOKEN", "RW_SMTP_PASSWORD", "RW_HOOK_URL",
                 "RW_HOOK_SECRET", "RW_HOOK_AUTH"):  # fmt: skip
        assert name in checked.stderr
    assert runner.invoke(app, ["--config", str(path), "run-due", "--dry-run"]).exit_code == 2
