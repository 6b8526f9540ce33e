"""pending signups keep their own choices; transient bounces are counted per subscriber

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signup_requests_subscriber", "signup_requests", ["subscriber_id"])
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("transient_bounces", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("transient_bounces")
    op.drop_index("ix_signup_requests_subscriber", table_name="signup_requests")
    op.drop_table("signup_requests")
