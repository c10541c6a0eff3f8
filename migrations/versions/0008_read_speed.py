"""read speed: a low-quality column computed from the flags, an index of the respondent block

Revision ID: 0008_read_speed
Revises: 0007_scale
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_read_speed"
down_revision = "0007_scale"
branch_labels = None
depends_on = None

# Every quality flag leaves a response out of scores except "clock" (feedback.bridge.COUNTED_FLAGS);
# flags are distinct codes joined by ";", so a response counts when they are "" or "clock" alone.
# Written so that PostgreSQL's own rendering of it reads the same (tests/test_cli.py compares them).
LOW_QUALITY = "flags <> '' AND flags <> 'clock'"
RESPONDENT = "question_id IN ('sex', 'age_band', 'ethnic_group') AND position = 0"


def upgrade():
    # Computed by the database from ``flags`` on every insert and update, whoever writes them:
    # stored on PostgreSQL (its planner then has statistics of it: it guessed that 0.5% of
    # responses pass the old text test); SQLite adds only virtual generated columns.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE response ADD COLUMN low_quality BOOLEAN GENERATED ALWAYS AS ({LOW_QUALITY}) STORED")
    else:
        op.execute(f"ALTER TABLE response ADD COLUMN low_quality BOOLEAN GENERATED ALWAYS AS ({LOW_QUALITY}) VIRTUAL")
    # The respondent block (sex, age band, ethnic group) of every response in one index, read
    # without touching the other answers (feedback.bridge.respondents_frame).
    op.create_index(
        "ix_answer_respondent",
        "answer",
        ["response_id", "question_id", "value"],
        postgresql_where=sa.text(RESPONDENT),
        sqlite_where=sa.text(RESPONDENT),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE response")


def downgrade():
    op.drop_index("ix_answer_respondent", table_name="answer")
    op.drop_column("response", "low_quality")
