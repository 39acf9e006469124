"""Whole calendar feeds, kept by a service as it stops for the next start (store/events.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_calendar_feed_key", "calendar_feed", ["key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_calendar_feed_key", table_name="calendar_feed")
    op.drop_table("calendar_feed")
