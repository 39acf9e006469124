"""Each delivery row names its channel and the message id it was sent as.

A channel's rate limit is enforced by counting what was sent to it in the last window,
across every instance sharing the store: with the channel on the delivery row and an index
on (channel, started_at) that count reads only the window's rows. A digest sends several
reminders as one message, so sends are counted by ``message_id`` (the id receivers saw: the
reminder's uid, or the digest's id). Older rows take both from their reminder.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
    of_its_reminder = "FROM reminder WHERE reminder.id = delivery.reminder_id"
    op.execute(
        f"UPDATE delivery SET channel = (SELECT reminder.channel {of_its_reminder}), "
        f"message_id = (SELECT reminder.uid {of_its_reminder})"
    )
    with op.batch_alter_table("delivery") as batch:
        batch.alter_column("channel", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("message_id", existing_type=sa.String(length=64), nullable=False)
    op.create_index("ix_delivery_channel_started", "delivery", ["channel", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_channel_started", table_name="delivery")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("message_id")
        batch.drop_column("channel")
