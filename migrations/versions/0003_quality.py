"""response quality flags and daily-rotating client hashes

Revision ID: 0003_quality
Revises: 0002_officers
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_quality"
down_revision = "0002_officers"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.String(length=120), server_default="", nullable=False))
        batch_op.add_column(sa.Column("network_hash", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("device_hash", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_response_device_received", ["device_hash", "received_at"], unique=False)
        batch_op.create_index("ix_response_network_received", ["network_hash", "received_at"], unique=False)


def downgrade():
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_index("ix_response_network_received")
        batch_op.drop_index("ix_response_device_received")
        batch_op.drop_column("device_hash")
        batch_op.drop_column("network_hash")
        batch_op.drop_column("flags")
