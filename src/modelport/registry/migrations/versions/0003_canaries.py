"""Canaries: a deployment's automated rollout plan and where it stands.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "canaries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step_started_at", TS, nullable=False),
        sa.Column("verdicts", sa.Text, nullable=False),
        sa.Column("started_by", sa.String(128), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_canaries_deployment", "canaries", ["deployment"])


def downgrade() -> None:
    op.drop_index("ix_canaries_deployment", "canaries")
    op.drop_table("canaries")
