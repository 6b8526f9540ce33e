"""stored sentence embeddings: the model of each paper's vector, and reader texts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 08:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        batch.add_column(sa.Column("embedding_model", sa.String(length=64), nullable=True))
    op.create_table(
        "text_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "digest", name="uq_text_embedding"),
    )


def downgrade() -> None:
    op.drop_table("text_embeddings")
    with op.batch_alter_table("papers") as batch:
        batch.drop_column("embedding_model")
