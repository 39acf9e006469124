"""Fixtures for the notifier tests: a webhook receiver, mail servers, a CA, an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailserver import TestCA
from receiver import WHSEC, Receiver


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[Receiver]:
    # One server for the session: stopping uvicorn takes a few tenths of a second.
    with Receiver(secret=WHSEC) as rx:
        yield rx


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Receiver:
    """A receiver verifying signatures made with ``WHSEC``, with nothing received yet."""
    _receiver_server.clear()
    return _receiver_server


@pytest.fixture(scope="session")
def ca() -> TestCA:
    return TestCA()
