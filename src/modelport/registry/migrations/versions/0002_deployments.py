"""Deployments (named endpoints with a traffic policy) and their audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "deployment_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_deployment_events_name", "deployment_events", ["name"])


def downgrade() -> None:
    op.drop_index("ix_deployment_events_name", "deployment_events")
    op.drop_table("deployment_events")
    op.drop_table("deployments")
