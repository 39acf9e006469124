"""Engines, sessions and schema upgrades for the store.

SQLite is the embedded default and needs no set-up; PostgreSQL is opt-in through the URL.
Nothing here runs at import time: entry points call :func:`connect` with the configured URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session

from alerts.errors import StoreError

_MIGRATIONS = Path(__file__).parent / "migrations"


def connect(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    Raises StoreError when the URL names a driver that is not installed.
    """
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, echo=echo, pool_pre_ping=True)
    except (ImportError, SQLAlchemyError) as exc:
        raise StoreError(f"cannot use database {redact_url(url)}: {exc}") from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the HTTP service read while an import writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise StoreError(f"database {redact_url(str(engine.url))} failed: {exc.orig}") from exc
        except BaseException:
            session.rollback()
            raise


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` with Alembic (a no-op when it is already there).

    Raises StoreError when the database cannot be reached.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        url = redact_url(str(engine.url))
        raise StoreError(f"cannot upgrade database {url}: {exc.orig}") from exc


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the migrations know: what `upgrade` brings a database to."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and errors."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable database URL>"
