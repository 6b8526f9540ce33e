"""subscribers choose whether links are click-tracked and whether "Also trending" shows

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-01 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing readers keep what they had: tracked links, and the new section shown.
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("click_tracking", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("also_trending", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("also_trending")
        batch.drop_column("click_tracking")
