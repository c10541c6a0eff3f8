"""close the loop: province public settings, published periods, "you said, we did", digests sent

Revision ID: 0010_close_loop
Revises: 0009_channel
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_close_loop"
down_revision = "0009_channel"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "province_setting",
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("public_results", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("public_ranking", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("province_code"),
    )
    op.create_table(
        "published_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("structure", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("method_version", sa.String(length=80), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["published_by"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "province_code", "date_from", "date_to", "structure", "revision", name="uq_published_period_revision"
        ),
    )
    op.create_index("ix_published_period_province", "published_period", ["province_code", "date_to"])
    op.create_table(
        "commune_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("service_point_id", sa.Integer(), nullable=True),
        sa.Column("dimension", sa.String(length=10), nullable=True),
        sa.Column("title_vi", sa.String(length=160), nullable=False),
        sa.Column("text_vi", sa.Text(), nullable=False),
        sa.Column("title_en", sa.String(length=160), nullable=True),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["commune_code"], ["commune.code"]),
        sa.ForeignKeyConstraint(["service_point_id"], ["service_point.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_commune_action_commune_code", "commune_action", ["commune_code"])
    op.create_table(
        "digest_sent",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "week"),
    )


def downgrade():
    op.drop_table("digest_sent")
    op.drop_index("ix_commune_action_commune_code", table_name="commune_action")
    op.drop_table("commune_action")
    op.drop_index("ix_published_period_province", table_name="published_period")
    op.drop_table("published_period")
    op.drop_table("province_setting")
