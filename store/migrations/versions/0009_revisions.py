"""Corrections: the revisions people make to a change, with who, when and why, and the
change a merged one went into.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import AwareDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "change_id",
            sa.Integer(),
            sa.ForeignKey("rule_change.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", AwareDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_change_revision_change_id", "change_revision", ["change_id"])
    op.add_column("rule_change", sa.Column("merged_into_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_change") as batch:
        batch.drop_column("merged_into_id")
    op.drop_index("ix_change_revision_change_id", table_name="change_revision")
    op.drop_table("change_revision")
