"""Fixtures for the source tests: a loopback web site and the web the sources fetch through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sites import Site

from alerts.sources.web import HttpWeb, Manners


@pytest.fixture(scope="session")
def _site_server() -> Iterator[Site]:
    # One server for the session: stopping uvicorn takes a few tenths of a second.
    with Site() as site:
        yield site


@pytest.fixture
def site(_site_server: Site) -> Site:
    """A site with no pages and nothing asked yet."""
    _site_server.reset()
    return _site_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The client the service reads sources with: httpx's own, which says the address it
    connected to (the senders' client does not)."""
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def web(http: httpx.AsyncClient) -> HttpWeb:
    """The web as a poll sees it, with a timeout short enough for a test."""
    # No per-host interval: the interval has its own tests (test_web.py), and these need
    # not wait a second between the requests of one poll.
    return HttpWeb(http, Manners(timeout=10, per_host_interval=0))
