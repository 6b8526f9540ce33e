"""papers keep Hugging Face's ai_summary, ai_keywords and githubStars for the digest cards

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        batch.add_column(sa.Column("ai_summary", sa.Text(), nullable=True))
        # Existing rows get an empty list; new ones always send a value (the model's default).
        batch.add_column(
            sa.Column("ai_keywords", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("github_stars", sa.Integer(), nullable=True))
    with op.batch_alter_table("papers") as batch:
        batch.alter_column("ai_keywords", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        batch.drop_column("github_stars")
        batch.drop_column("ai_keywords")
        batch.drop_column("ai_summary")
