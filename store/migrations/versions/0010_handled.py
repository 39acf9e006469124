"""Changes marked handled, per watch or per tag.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import AwareDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handled",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "change_id",
            sa.Integer(),
            sa.ForeignKey("rule_change.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scope_kind", sa.String(10), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", AwareDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_handled_scope", "handled", ["change_id", "scope_kind", "scope"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_handled_scope", table_name="handled")
    op.drop_table("handled")
