"""Tests for notifiers/base.py: HTTP classification and the redaction helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from notifiers.base import Verdict, classify_http, one_line, origin, redact, url_secrets

NOW = datetime(2024, 2, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        *(pytest.param(s, Verdict.delivered, id=str(s)) for s in (200, 201, 202, 204, 299)),
        *(pytest.param(s, Verdict.retry, id=str(s)) for s in (408, 429, 500, 502, 503, 504, 599)),
        *(
            pytest.param(s, Verdict.failed, id=str(s))
            for s in (100, 301, 302, 304, 400, 401, 403, 404, 405, 409, 410, 413, 422, 451)
        ),
    ],
)
def test_classify_http(status, verdict):
    outcome = classify_http(status, {})
    assert (outcome.verdict, outcome.status_code, outcome.retry_after) == (verdict, status, None)
    assert f"HTTP {status}" in outcome.reason


@pytest.mark.parametrize(
    ("status", "value", "expected"),
    [
        pytest.param(429, "7", 7.0, id="429-seconds"),
        pytest.param(503, "0", 0.0, id="503-zero"),
        pytest.param(503, " 120 ", 120.0, id="spaces"),
        pytest.param(
            429, format_datetime(NOW + timedelta(minutes=2), usegmt=True), 120.0, id="date"
        ),
        pytest.param(429, format_datetime(NOW - timedelta(minutes=2), usegmt=True), 0.0, id="past"),
        pytest.param(429, "Fri, 23 Feb 2024 09:00:30 GMT", 30.0, id="imf-fixdate"),
        pytest.param(429, "soon", None, id="unreadable"),
        pytest.param(429, "-5", None, id="negative"),
        pytest.param(500, "7", None, id="500-ignores-it"),
        pytest.param(408, "7", None, id="408-ignores-it"),
    ],
)
def test_retry_after(status, value, expected):
    outcome = classify_http(status, {"Retry-After": value}, now=NOW)
    assert outcome.verdict is Verdict.retry and outcome.retry_after == expected


def test_retry_after_is_looked_up_whatever_its_case():
    assert classify_http(503, {"retry-after": "3"}).retry_after == 3


def test_a_redirect_does_not_show_its_location():
    outcome = classify_http(302, {"Location": "https://elsewhere.example/?token=t"})
    assert outcome.verdict is Verdict.failed and "token" not in outcome.reason


def test_redact_masks_every_secret_longest_first():
    text = "Bearer abc123 and abc123xyz and abc"
    assert redact(text, ["abc123", "abc123xyz", "", "Bearer abc123"]) == "*** and *** and abc"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/services/T0KEN?x=1#f", "https://hooks.example.com"),
        ("http://user:pw@127.0.0.1:8080/h", "http://127.0.0.1:8080"),
        ("http://[::1]:9000/h", "http://[::1]:9000"),
        ("https://例子.测试/h", "https://例子.测试"),
        ("http://host:99999/x", "***"),
    ],
)
def test_origin(url, shown):
    assert origin(url) == shown


def test_url_secrets_cover_user_info_path_query_and_fragment():
    url = "https://u:pw@hooks.example.com/services/T0KEN?key=K3Y&flag#frag"
    found = url_secrets(url)
    text = f"failed for {url} (path /services/T0KEN, key K3Y, user u:pw, #frag)"
    cleaned = redact(text, found)
    for secret in ("T0KEN", "K3Y", "u:pw", "frag", "/services"):
        assert secret not in cleaned
    assert "hooks.example.com" not in cleaned  # the whole URL went first
    assert url_secrets("https://hooks.example.com/") == ["https://hooks.example.com/"]


def test_one_line():
    assert one_line("a\r\n b\tc") == "a b c"
    assert one_line("x" * 300, limit=10) == "x" * 9 + "…"
