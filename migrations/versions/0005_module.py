"""the rotating survey module a web respondent was shown

Revision ID: 0005_module
Revises: 0004_margins
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_module"
down_revision = "0004_margins"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch rebuild): rebuilding `response` on SQLite would cascade
    # deletes into its answers.
    op.add_column("response", sa.Column("module", sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_column("module")
