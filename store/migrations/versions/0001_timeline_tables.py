"""Timeline tables: rule, rule_change, notice, change_notice.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import AwareDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(40), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_rule_key", "rule", ["key"], unique=True)
    op.create_index("ix_rule_platform", "rule", ["platform"])

    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("published_at", AwareDateTime(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_notice_content_hash", "notice", ["content_hash"], unique=True)

    op.create_table(
        "rule_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.Integer(), sa.ForeignKey("rule.id"), nullable=False),
        sa.Column("platform", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("announced_on", sa.Date(), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("effective_at", sa.Time(), nullable=True),
        sa.Column("tentative", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("postponed_from", sa.Date(), nullable=True),
        sa.Column("dated_by", AwareDateTime(), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("updated_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_rule_change_uid", "rule_change", ["uid"], unique=True)
    op.create_index("ix_rule_change_rule_id", "rule_change", ["rule_id"])
    op.create_index("ix_rule_change_announced_on", "rule_change", ["announced_on"])
    op.create_index("ix_rule_change_effective_on", "rule_change", ["effective_on"])

    op.create_table(
        "change_notice",
        sa.Column(
            "change_id",
            sa.Integer(),
            sa.ForeignKey("rule_change.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "notice_id",
            sa.Integer(),
            sa.ForeignKey("notice.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )


def downgrade() -> None:
    op.drop_table("change_notice")
    op.drop_table("rule_change")
    op.drop_table("notice")
    op.drop_table("rule")
