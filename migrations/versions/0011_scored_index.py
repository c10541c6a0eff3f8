"""read speed: an index of the scored answers (response, sub-dimension, score)

Revision ID: 0011_scored_index
Revises: 0010_close_loop
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_scored_index"
down_revision = "0010_close_loop"
branch_labels = None
depends_on = None

SCORED = "score IS NOT NULL AND subdimension IS NOT NULL"


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL reads answers by ranges of pages and hash-joins: the index would only cost writes
    # SQLite reads the scored answers of each response from this index alone (no table rows):
    # 2.9 s -> 0.55 s per 250,000 responses (benchmarks/export_speed.py). About 10 s per
    # million responses to build.
    op.create_index(
        "ix_answer_scored", "answer", ["response_id", "subdimension", "score"], sqlite_where=sa.text(SCORED)
    )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_answer_scored", table_name="answer")
