"""An index the dispatcher claims by: pending reminders in the order they fall due.

Without it every claim of a batch sorted all due reminders, so emptying a backlog of n
reminders cost O(n²/batch) (bench/dispatch.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reminder_claim", "reminder", ["status", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_reminder_claim", table_name="reminder")
