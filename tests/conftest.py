"""Fixtures shared by the whole suite: the shared seed data, a fresh store on each backend,
the event loop the service runs on and an HTTP client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from notifiers.http import sending_client
from store.db import connect, upgrade

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RULEWATCH_SHARED", ROOT.parent / "shared"))
PG_ADMIN_URL = os.environ.get(
    "RULEWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def anyio_backend() -> str:
    # The service runs on asyncio (APScheduler's AsyncIOScheduler, aiosmtplib).
    return "asyncio"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client the engine shares between channels."""
    async with sending_client() as client:
        yield client


@pytest.fixture(scope="session")
def shared() -> Path:
    """The project's shared folder (seed listing and labelled data), beside the repo."""
    if not (SHARED / "dev" / "seed_items.json").exists():
        pytest.fail(f"shared data not found at {SHARED}; set RULEWATCH_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def seed_listing(shared: Path) -> Path:
    listings = sorted((shared / "seeds").glob("*.txt"))
    assert listings, f"no seed listing in {shared / 'seeds'}"
    return listings[0]


def _postgres_available() -> str | None:
    """None when the test server answers, else the reason it does not."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    reason = _postgres_available()
    if reason is not None:
        pytest.skip(f"NO POSTGRESQL SERVER at {PG_ADMIN_URL}: {reason} — PostgreSQL tests skipped")
    return PG_ADMIN_URL


def _throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A database made for one test and dropped after it; never the configured one."""
    import psycopg

    name = f"rulewatch_test_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """The URL of a PostgreSQL database made for this test alone, dropped after it."""
    yield from _throwaway_postgres(postgres_server)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, then a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rulewatch.db'}"
        return
    yield from _throwaway_postgres(request.getfixturevalue("postgres_server"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with every migration applied."""
    engine = connect(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()
