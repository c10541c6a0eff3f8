"""channel: how a response arrived (poster, landing page, paper, API), kept beside its mode

Revision ID: 0009_channel
Revises: 0008_read_speed
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_channel"
down_revision = "0008_read_speed"
branch_labels = None
depends_on = None

CHANNELS = "'poster', 'landing', 'paper', 'api'"
# Responses stored before: paper and API forms are their own channel; a web form that named a
# service point came from its poster (the landing page also led there when the commune had
# one, but that was never recorded: the poster is the likelier and the old meaning), one
# without a service point from the landing page (feedback.models.channel_of).
BACKFILL = (
    "UPDATE response SET channel = CASE WHEN mode IN ('paper', 'api') THEN mode "
    "WHEN service_point_id IS NOT NULL THEN 'poster' ELSE 'landing' END"
)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN, no batch rebuild: rebuilding `response` on SQLite would cascade
        # deletes into its answers (0005, 0006). SQLite adds a NOT NULL column only with a
        # default; every insert names the channel, so the default only fills the rows already
        # there until the backfill, and the CHECK is the column's own (a DROP COLUMN can drop it).
        op.execute(
            "ALTER TABLE response ADD COLUMN channel VARCHAR(10) NOT NULL DEFAULT 'landing' "
            f"CONSTRAINT ck_response_channel CHECK (channel IN ({CHANNELS}))"
        )
        op.execute(BACKFILL)
        return
    op.add_column("response", sa.Column("channel", sa.String(length=10), nullable=True))
    op.execute(BACKFILL)
    op.alter_column("response", "channel", existing_type=sa.String(length=10), nullable=False)
    op.create_check_constraint(op.f("ck_response_channel"), "response", f"channel IN ({CHANNELS})")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE response DROP COLUMN channel")  # no rebuild (see upgrade)
        return
    op.drop_constraint(op.f("ck_response_channel"), "response", type_="check")
    op.drop_column("response", "channel")
