"""Engines, sessions and schema upgrades for the store.

SQLite is the embedded default and needs no set-up; PostgreSQL is opt-in through the URL.
Nothing here runs at import time: entry points call :func:`connect` with the configured URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, IntegrityError, SQLAlchemyError
from sqlmodel import Session

from store.errors import StoreError

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
        raise StoreError(f"cannot use database {database_url_shown(url)}: {exc}") from exc
    return engine


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT into ``table`` in the store's own dialect, which has
    ``on_conflict_do_nothing``; only that dialect is imported (PostgreSQL's would cost every
    command on SQLite 20 ms)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the HTTP service read while an import writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine, *, commit_at_end: bool = True) -> Iterator[Session]:
    """A session that commits when the block ends (unless told not to: then what was not
    committed is rolled back) and rolls back if it raises.

    A database that fails (unreachable, full, not a database at all) raises StoreError with
    the database named; a conflict (IntegrityError) is raised as it is, for the caller to
    judge.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            if commit_at_end:
                session.commit()
        except IntegrityError:
            session.rollback()
            raise
        except DatabaseError as exc:
            session.rollback()
            raise failure(engine, exc) from exc
        except BaseException:
            session.rollback()
            raise


def failure(bind: Engine | Connection, exc: DatabaseError) -> StoreError:
    """The StoreError for a database that failed, naming it (without its password)."""
    return StoreError(f"database {database_url_shown(str(bind.engine.url))} failed: {exc.orig}")


T = TypeVar("T")


def committed(session: Session, write: Callable[[], T]) -> T:
    """Run ``write`` in ``session`` and commit it; return what it returned once committed.

    A write that collides with another writer's (a unique key taken meanwhile, say the same
    notice posted twice at once) is rolled back and run once more, when it finds what the
    other writer stored. Raises StoreError when the commit fails (a full disk, a lost
    connection), so nothing is ever reported stored that is not.
    """
    for attempt in (1, 2):
        try:
            result = write()
            session.commit()
            return result
        except IntegrityError as exc:
            session.rollback()
            if attempt == 2:
                message = f"the write conflicted with another writer twice: {exc.orig}"
                raise StoreError(message) from exc
        except DatabaseError as exc:
            session.rollback()
            raise failure(session.get_bind(), exc) from exc
    raise AssertionError("unreachable")


def ensure_schema(engine: Engine) -> None:
    """Bring the schema to head, at the cost of one query when it is there already: what a
    command checks before it reads or writes (Alembic is imported only to upgrade)."""
    try:
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DatabaseError:
        stored = []  # a new store (no table yet), or one Alembic must look at itself
    if [row[0] for row in stored] != [newest_revision()]:
        upgrade(engine)


def newest_revision() -> str:
    """The head revision, read off the migration files' names (``0011_search.py``): the
    chain is one line numbered in order, which tests/store hold against Alembic's own head."""
    return max(path.name.split("_", 1)[0] for path in (_MIGRATIONS / "versions").glob("0*.py"))


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` with Alembic (a no-op when it is already there).

    Raises StoreError when the database cannot be reached.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    migrating = _exclusive(engine)
    try:
        # One migration at a time: instances that start together wait for the first, then
        # find the schema at head and do nothing.
        with migrating.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except DatabaseError as exc:
        url = database_url_shown(str(engine.url))
        raise StoreError(f"cannot upgrade database {url}: {exc.orig}") from exc
    finally:
        if migrating is not engine:
            migrating.dispose()


# Advisory lock keys (any 64-bit number; the same in every instance): "rulewatch" as digits.
_MIGRATION_LOCK = 0x7275_6C65_7761_0001
PLANNING_LOCK = 0x7275_6C65_7761_0002
# Held while a claim counts what rate-limited channels were sent, so that two instances
# cannot both find room for the same last message.
PACING_LOCK = 0x7275_6C65_7761_0003
# Held by a batch of notices being placed (alerts/timeline/batch.py), so that writers of the
# timeline on PostgreSQL take turns as SQLite's write lock makes them: a batch reads the
# changes it places into only once no other batch can add to them before it commits.
TIMELINE_LOCK = 0x7275_6C65_7761_0004


def _exclusive(engine: Engine) -> Engine:
    """An engine whose transactions hold the database whole: on SQLite, one that opens
    them with BEGIN EXCLUSIVE (the driver would begin none before DDL at all); PostgreSQL
    takes an advisory lock instead, so it is the engine itself."""
    if engine.dialect.name != "sqlite":
        return engine
    exclusive = create_engine(engine.url, connect_args={"timeout": 30, "isolation_level": None})
    event.listen(exclusive, "connect", _sqlite_pragmas)
    event.listen(
        exclusive, "begin", lambda connection: connection.exec_driver_sql("BEGIN EXCLUSIVE")
    )
    return exclusive


def try_lock(session: Session, key: int) -> bool:
    """Take ``key`` for the rest of the session's transaction, unless another instance
    holds it (then False at once). On SQLite every writer takes the whole database in
    turn, so there is nothing to take."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    taken = session.connection().exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({key})")
    return bool(taken.scalar())


def hold_writes(session: Session) -> None:
    """Take the right to write for the rest of the session's transaction, so that what it
    reads before it writes stays true: on SQLite the database's write lock (BEGIN
    IMMEDIATE, waiting for another writer as any write does), unless a write of the
    transaction took it already; PostgreSQL locks the rows a writer reads instead."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def hold_lock(session: Session, key: int) -> None:
    """Take ``key`` for the rest of the session's transaction, waiting for another
    instance that holds it. On SQLite there is nothing to take (see :func:`try_lock`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({key})")


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


def database_url_shown(url: str) -> str:
    """A database URL with its password hidden, for logs and errors (other URLs are shown
    by ``alerts.config.values.url_masked``, which masks userinfo and query values)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable database URL>"
