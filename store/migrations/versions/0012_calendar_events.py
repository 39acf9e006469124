"""Serialized calendar events, kept across restarts (store/events.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("change_uid", sa.String(64), nullable=False),
        sa.Column("block", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_calendar_event_key", "calendar_event", ["key"], unique=True)
    op.create_index("ix_calendar_event_change_uid", "calendar_event", ["change_uid"])


def downgrade() -> None:
    op.drop_index("ix_calendar_event_change_uid", table_name="calendar_event")
    op.drop_index("ix_calendar_event_key", table_name="calendar_event")
    op.drop_table("calendar_event")
