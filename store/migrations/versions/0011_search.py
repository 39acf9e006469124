"""The search index: one folded document per change (store/search.py), filled for the
changes already stored.

SQLite: an FTS5 table with the trigram tokenizer. PostgreSQL: a table with a pg_trgm GIN
index; where the extension cannot be created (no right to), the table has no index, every
search scans it, and the log says so.

The documents of existing changes are folded here as ``alerts.timeline.search.fold`` folds
them (NFKC, OpenCC t2s, casefold), from a frozen copy of that rule: a migration is a snapshot,
and store imports nothing from alerts.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0011"
down_revision = "0008"
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
        )
        if _trigram_extension(bind):
            op.execute(
                "CREATE INDEX ix_change_search_trgm ON change_search "
                "USING gin (document gin_trgm_ops)"
            )
    else:
        op.execute("CREATE VIRTUAL TABLE change_search USING fts5(document, tokenize='trigram')")
    _backfill(bind)


def downgrade() -> None:
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
    column = "change_id" if bind.dialect.name == "postgresql" else "rowid"
    insert = sa.text(f"INSERT INTO change_search ({column}, document) VALUES (:id, :document)")
    rows = [
        {"id": change_id, "document": _fold("\n".join([key, name, title, summary, *found]))}
        for change_id, key, name, title, summary in changes
        for found in [sources.get(change_id, [])]
    ]
    for start in range(0, len(rows), 500):
        bind.execute(insert, rows[start : start + 500])


def _fold(text: str) -> str:
    import opencc

    text = unicodedata.normalize("NFKC", text.replace("\x00", " "))
    return str(opencc.OpenCC("t2s").convert(text)).casefold()
