"""full-text search over papers: a generated tsvector + GIN index (PostgreSQL), FTS5 (SQLite)

PostgreSQL keeps the search vector in a generated column, so every write to a paper's
title, abstract or authors updates it with no code involved. SQLite has no tsvector: an
FTS5 table holds a copy of the searchable text, kept in step by triggers that fire
only when those columns change (upvote updates, the frequent write, do not touch it).

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-01 23:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

# Title weighs most, then authors, then the abstract (ts_rank's A > B > C).
PG_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(jsonb_to_tsvector('simple', coalesce(authors::jsonb, '[]'::jsonb), "
    "'[\"string\"]'), 'B') || "
    "setweight(to_tsvector('english', coalesce(abstract, '')), 'C')"
)

# The authors' names joined with commas (the JSON holds names and affiliations).
SQLITE_AUTHORS = (
    "(SELECT coalesce(group_concat(json_extract(value, '$.name'), ', '), '') "
    "FROM json_each(CASE WHEN json_valid({row}.authors) THEN {row}.authors ELSE '[]' END))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE papers ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_papers_search ON papers USING gin (search_vector)")
        return
    op.execute(
        "CREATE VIRTUAL TABLE papers_fts USING fts5("
        "title, abstract, authors, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    new_row = (
        "INSERT INTO papers_fts(rowid, title, abstract, authors) VALUES "
        f"(new.id, coalesce(new.title, ''), coalesce(new.abstract, ''), "
        f"{SQLITE_AUTHORS.format(row='new')});"
    )
    op.execute(f"CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN {new_row} END")
    op.execute(
        "CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract, authors ON papers "
        f"BEGIN DELETE FROM papers_fts WHERE rowid = old.id; {new_row} END"
    )
    op.execute(
        "CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers "
        "BEGIN DELETE FROM papers_fts WHERE rowid = old.id; END"
    )
    # Papers stored before this migration.
    op.execute(
        "INSERT INTO papers_fts(rowid, title, abstract, authors) "
        "SELECT id, coalesce(title, ''), coalesce(abstract, ''), "
        f"{SQLITE_AUTHORS.format(row='papers')} FROM papers"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_papers_search")
        op.execute("ALTER TABLE papers DROP COLUMN IF EXISTS search_vector")
        return
    for trigger in ("papers_fts_insert", "papers_fts_update", "papers_fts_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS papers_fts")
