"""The search index: one folded document per change (store/search.py), filled for the
changes already stored.

SQLite: an FTS5 table of the documents with the trigram tokenizer and one of their bigrams
(pairs of neighbouring letters or digits) as words. PostgreSQL: a table of the documents and
their bigrams, each with a pg_trgm GIN index; where the extension cannot be created (no
right to), they have no index, every search scans them, and the log says so.

The documents of existing changes are folded here as ``alerts.timeline.search.fold`` folds
them (NFKC, OpenCC t2s, casefold), from a frozen copy of that rule: a migration is a snapshot,
and store imports nothing from alerts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger("rulewatch.migrations")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_table(
            "change_search",
            sa.Column(
                "change_id",
                sa.Integer(),
                sa.ForeignKey("rule_change.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("document", sa.Text(), nullable=False),
            sa.Column("bigrams", sa.Text(), nullable=False),
        )
        for column in ("document", "bigrams"):
            # No statistics of the texts: ANALYZE keeps only values under 1 kB, the planner
            # read "seller" into every row from the short ones and scanned (32 ms) where the
            # trigram index, which its default guess picks, takes 3 (bench/README.md).
            op.execute(f"ALTER TABLE change_search ALTER COLUMN {column} SET STATISTICS 0")
        if _trigram_extension(bind):
            for column in ("document", "bigrams"):
                op.execute(
                    f"CREATE INDEX ix_change_search_{column} ON change_search "
                    f"USING gin ({column} gin_trgm_ops)"
                )
    else:
        op.execute("CREATE VIRTUAL TABLE change_search USING fts5(document, tokenize='trigram')")
        op.execute(
            "CREATE VIRTUAL TABLE change_search_bigram USING "
            "fts5(bigrams, tokenize='unicode61 remove_diacritics 0')"
        )
    _backfill(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE change_search_bigram")
    op.execute("DROP TABLE change_search")


def _trigram_extension(bind: sa.Connection) -> bool:
    try:
        with bind.begin_nested():  # a savepoint: a refusal must not end the migration
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        log.warning(
            "search: cannot create the pg_trgm extension (%s); searches scan every document",
            str(exc.orig).strip().splitlines()[0],
        )
        return False
    return True


def _backfill(bind: sa.Connection) -> None:
    changes = bind.execute(
        sa.text(
            "SELECT c.id, r.key, r.name, c.title, c.summary FROM rule_change c "
            "JOIN rule r ON r.id = c.rule_id ORDER BY c.id"
        )
    ).all()
    sources: dict[int, list[str]] = {}
    for change_id, title, text in bind.execute(
        sa.text(
            "SELECT l.change_id, n.title, n.text FROM change_notice l "
            "JOIN notice n ON n.id = l.notice_id ORDER BY n.published_at, n.id"
        )
    ):
        sources.setdefault(change_id, []).extend((title or "", text or ""))
    documents = [
        (change_id, _fold("\n".join([key, name, title, summary, *sources.get(change_id, [])])))
        for change_id, key, name, title, summary in changes
    ]
    if bind.dialect.name == "postgresql":
        inserts = [
            sa.text(
                "INSERT INTO change_search (change_id, document, bigrams) "
                "VALUES (:id, :document, :bigrams)"
            )
        ]
    else:
        inserts = [
            sa.text("INSERT INTO change_search (rowid, document) VALUES (:id, :document)"),
            sa.text("INSERT INTO change_search_bigram (rowid, bigrams) VALUES (:id, :bigrams)"),
        ]
    rows = [
        {"id": change_id, "document": document, "bigrams": _bigrams(document)}
        for change_id, document in documents
    ]
    for start in range(0, len(rows), 500):
        for insert in inserts:
            bind.execute(insert, rows[start : start + 500])


def _bigrams(document: str) -> str:
    pairs = {document[i : i + 2] for i in range(len(document) - 1)}
    return f" {' '.join(sorted(pair for pair in pairs if pair.isalnum()))} "


def _fold(text: str) -> str:
    import opencc

    text = unicodedata.normalize("NFKC", text.replace("\x00", " "))
    return str(opencc.OpenCC("t2s").convert(text)).casefold()
