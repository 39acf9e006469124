"""Polled sources: each one's state, the items it found, and the sources added by API.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import AwareDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("etag", sa.String(500), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("last_polled_at", AwareDateTime(), nullable=True),
        sa.Column("last_success_at", AwareDateTime(), nullable=True),
        sa.Column("last_error_at", AwareDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("not_before", AwareDateTime(), nullable=True),
        sa.Column("items_seen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("told_failing", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "source_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column(
            "notice_id",
            sa.Integer(),
            sa.ForeignKey("notice.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("seen_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_source_item_key", "source_item", ["source", "key_digest"], unique=True)
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_source_name", "source", ["name"], unique=True)


def downgrade() -> None:
    op.drop_table("source")
    op.drop_index("ix_source_item_key", table_name="source_item")
    op.drop_table("source_item")
    op.drop_table("source_state")
