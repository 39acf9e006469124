"""The search index of the timeline: one folded document per change, and the terms that find it.

A change's document is its rule's key and name, its title and summary and the titles and
texts of its source notices, folded by ``alerts.timeline.search`` (the store imports nothing
from alerts, so documents and terms arrive folded: lower case, half-width, simplified).

- SQLite: ``change_search`` is an FTS5 table with the trigram tokenizer, its rowid the
  change's id. A term of three characters or more is a trigram MATCH; a shorter one (发货)
  cannot be, the tokenizer indexes nothing shorter, so it is a LIKE over the same table, which
  runs after the MATCH of the longer terms when there are any (bench/search.py measures it).
- PostgreSQL: ``change_search(change_id, document)`` with a pg_trgm GIN index (migration
  0011), every term a LIKE, which the index serves for three characters or more; a shorter
  term is a scan of the documents. Without the extension every term is such a scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

TABLE = "change_search"
TRIGRAM = 3  # the shortest term the trigram indexes serve
_sqlite = sa.table(TABLE, sa.column("rowid", sa.Integer), sa.column("document", sa.Text))
# The document as an expression, not the column, so that SQLite evaluates the LIKE itself:
# handed to FTS5, a pattern of one or two Chinese characters finds nothing (SQLite 3.40's
# trigram tokenizer counts its bytes as characters and looks up a trigram that is none). An
# ESCAPE clause keeps SQLite from handing the LIKE over too, but that is the planner's detail.
_SCANNED = sa.literal_column("+document", sa.Text)
_postgres = sa.table(TABLE, sa.column("change_id", sa.Integer), sa.column("document", sa.Text))


def save_document(session: Session, *, change_id: int, document: str) -> None:
    """Keep ``document`` as the change's searchable text, replacing the one it had."""
    if _dialect(session) == "postgresql":
        statement = sa.text(
            f"INSERT INTO {TABLE} (change_id, document) VALUES (:id, :document) "
            "ON CONFLICT (change_id) DO UPDATE SET document = excluded.document"
        )
        session.connection().execute(statement, {"id": change_id, "document": document})
        return
    # An FTS5 table has no upsert: the old row goes, the new one comes.
    session.connection().execute(
        sa.text(f"DELETE FROM {TABLE} WHERE rowid = :id"), {"id": change_id}
    )
    session.connection().execute(
        sa.text(f"INSERT INTO {TABLE} (rowid, document) VALUES (:id, :document)"),
        {"id": change_id, "document": document},
    )


def matching(session: Session, terms: Sequence[str]) -> Any:
    """A select of the ids of the changes whose document holds every one of ``terms``."""
    if _dialect(session) == "postgresql":
        statement = sa.select(_postgres.c.change_id)
        for term in terms:
            statement = statement.where(_postgres.c.document.like(_contains(term), escape="\\"))
        return statement
    statement = sa.select(_sqlite.c.rowid)
    long = [term for term in terms if len(term) >= TRIGRAM]
    if long:
        phrase = " AND ".join(_phrase(term) for term in long)
        statement = statement.where(sa.literal_column(TABLE).op("MATCH")(phrase))
    for term in terms:
        if len(term) < TRIGRAM:
            statement = statement.where(_SCANNED.like(_contains(term), escape="\\"))
    return statement


def _contains(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phrase(term: str) -> str:
    # An FTS5 string: the term as it is, quotes doubled, so no character is query syntax.
    return '"' + term.replace('"', '""') + '"'


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: the index's tables (on SQLite, FTS5's own among them)
    are made by migration 0011 and have no model, so comparing the schema with the models
    leaves them out."""
    return not (type_ == "table" and name is not None and name.startswith(TABLE))
