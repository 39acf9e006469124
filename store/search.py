"""The search index of the timeline: one folded document per change, and the terms that find it.

A change's document is its rule's key and name, its title and summary and the titles and
texts of its source notices, folded by ``alerts.timeline.search`` (the store imports nothing
from alerts, so documents and terms arrive folded: lower case, half-width, simplified).

A word is found by the index that serves its length (bench/search.py measures each):

- three characters or more: trigrams. SQLite: ``change_search``, an FTS5 table with the
  trigram tokenizer (rowid = the change's id), a MATCH of the word as a phrase. PostgreSQL:
  ``change_search(change_id, document, bigrams)`` with pg_trgm GIN indexes, a LIKE.
- two letters or digits (发货, 退款, 5g), which trigrams cannot serve: the document's bigrams,
  every pair of neighbouring letters or digits it holds, written as words between spaces
  (`` 发货 货规 …``). SQLite: ``change_search_bigram``, an FTS5 table of them, a MATCH of the
  word; PostgreSQL: ``bigrams LIKE '% 发货 %'``, whose spaces give pg_trgm the whole trigrams
  of a word (" 发货", "发货 ") to look up. (An array of the pairs with a GIN index was tried
  first: the planner took a sequential scan, 45-75 ms against 1-3 ms for this.)
- one character, or two that are not both letters or digits: a LIKE over every document.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

TABLE = "change_search"
BIGRAM_TABLE = "change_search_bigram"
TRIGRAM = 3  # the shortest word the trigram indexes serve
_trigrams = sa.table(TABLE, sa.column("rowid", sa.Integer), sa.column("document", sa.Text))
_bigrams = sa.table(BIGRAM_TABLE, sa.column("rowid", sa.Integer))
# The document as an expression, not the column, so that SQLite evaluates the LIKE itself:
# handed to FTS5, a pattern of one or two Chinese characters finds nothing (SQLite 3.40's
# trigram tokenizer counts its bytes as characters and looks up a trigram that is none). An
# ESCAPE clause keeps SQLite from handing the LIKE over too, but that is the planner's detail.
_SCANNED = sa.literal_column("+document", sa.Text)
_postgres = sa.table(
    TABLE,
    sa.column("change_id", sa.Integer),
    sa.column("document", sa.Text),
    sa.column("bigrams", sa.Text),
)


def bigrams(document: str) -> str:
    """Every pair of neighbouring letters or digits in ``document``, each once, sorted, as
    words between spaces (one before the first and after the last too)."""
    pairs = {document[i : i + 2] for i in range(len(document) - 1)}
    return f" {' '.join(sorted(pair for pair in pairs if pair.isalnum()))} "


def save_document(session: Session, *, change_id: int, document: str) -> None:
    """Keep ``document`` as the change's searchable text, replacing the one it had."""
    save_documents(session, [(change_id, document)])


def save_documents(
    session: Session, documents: Sequence[tuple[int, str]], *, fresh: Collection[int] = ()
) -> None:
    """Keep each (change id, document) as the change's searchable text, replacing the one it
    had (none for the ids of ``fresh``, changes just added): a few statements for them all."""
    if not documents:
        return
    rows = [{"id": i, "document": d, "bigrams": bigrams(d)} for i, d in documents]
    connection = session.connection()
    if _dialect(session) == "postgresql":
        statement = sa.text(
            f"INSERT INTO {TABLE} (change_id, document, bigrams) "
            "VALUES (:id, :document, :bigrams) ON CONFLICT (change_id) DO UPDATE "
            "SET document = excluded.document, bigrams = excluded.bigrams"
        )
        connection.execute(statement, rows)
        return
    # An FTS5 table has no upsert: the old row goes, the new one comes.
    old = [{"id": row["id"]} for row in rows if row["id"] not in fresh]
    for table, column in ((TABLE, "document"), (BIGRAM_TABLE, "bigrams")):
        if old:
            connection.execute(sa.text(f"DELETE FROM {table} WHERE rowid = :id"), old)
        connection.execute(
            sa.text(f"INSERT INTO {table} (rowid, {column}) VALUES (:id, :{column})"), rows
        )


def matching(session: Session, terms: Sequence[str], change_id: Any) -> Any:
    """A condition on ``change_id`` (a column of change ids): its document holds every one
    of ``terms``."""
    long = [term for term in terms if len(term) >= TRIGRAM]
    pairs = [term for term in terms if len(term) == 2 and term.isalnum()]
    short = [term for term in terms if term not in long and term not in pairs]
    if _dialect(session) == "postgresql":
        found = sa.select(_postgres.c.change_id)
        for term in [*long, *short]:
            found = found.where(_postgres.c.document.like(_literal(_contains(term)), escape="\\"))
        for pair in pairs:
            found = found.where(_postgres.c.bigrams.like(_literal(f"% {pair} %")))
        return change_id.in_(found)
    # Matched as a value (id + 0), not as the column: SQLite, without statistics, would
    # otherwise look each rule of a platform filter up in the list of matches, id by id
    # (a second for 罚款 with platform=京东 on 10,000 changes; 2-9 ms this way, bench/README).
    change_id = change_id + 0
    conditions = []
    if long:
        phrases = sa.literal_column(TABLE).op("MATCH")(" AND ".join(map(_phrase, long)))
        conditions.append(change_id.in_(sa.select(_trigrams.c.rowid).where(phrases)))
    if pairs:
        words = sa.literal_column(BIGRAM_TABLE).op("MATCH")(" AND ".join(map(_phrase, pairs)))
        conditions.append(change_id.in_(sa.select(_bigrams.c.rowid).where(words)))
    if short:
        scanned = [_SCANNED.like(_contains(term), escape="\\") for term in short]
        conditions.append(change_id.in_(sa.select(_trigrams.c.rowid).where(*scanned)))
    return sa.and_(*conditions)


def _literal(pattern: str) -> Any:
    # Written into the statement rather than bound: psycopg prepares a statement run five
    # times, and PostgreSQL's generic plan for LIKE $1 cannot use a trigram index (it does
    # not know the pattern), so the same search turned from 3 ms into 35 ms when repeated.
    return sa.bindparam(None, pattern, type_=sa.Text, literal_execute=True)


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
