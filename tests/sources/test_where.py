"""How a source's URL is shown in errors, logs and pages (``alerts.sources.base.where``):
where the page is, without what may hold a key."""

from __future__ import annotations

import pytest

from alerts.sources.base import where


@pytest.mark.parametrize(
    "url, shown",
    [
        pytest.param("https://rules.example.com/news/notice-7.html?page=2#top",
                     "https://rules.example.com/news/notice-7.html", id="query"),
        pytest.param("http://rw:pw@rules.example.com:8080/list", "http://rules.example.com:8080/list",
                     id="userinfo"),
        pytest.param("https://feeds.example.com/u/9f8e7d6c5b4a3210abcd/rss.xml",
                     "https://feeds.example.com/u/***/rss.xml", id="path-key"),
        pytest.param("https://feeds.example.com/feed/Ab12Cd34Ef56Gh78.xml",
                     "https://feeds.example.com/feed/***.xml", id="key-named-file"),
        pytest.param("https://www.example.com/news/2026/12/rule-center-announcement.html",
                     "https://www.example.com/news/2026/12/rule-center-announcement.html",
                     id="words-and-dates-stay"),
        pytest.param("http://rw:pw@[::1/Ab12Cd34Ef56Gh78Ij?k=1", "http://[::1/***",
                     id="unparsable"),
    ],
)  # fmt: skip
def test_a_url_is_shown_without_what_may_hold_a_key(url, shown):
    assert where(url) == shown
