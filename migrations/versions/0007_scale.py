"""scale: background jobs with their files, score cache and data versions, staff provinces

Revision ID: 0007_scale
Revises: 0006_trust
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_scale"
down_revision = "0006_trust"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("province_code", sa.String(length=2), nullable=True))
    # An installation that holds one province's communes keeps its admins and analysts to that
    # province, so loading a second province later shows them nothing new; a national account
    # is made on purpose (create-user without --province).
    op.execute(
        "UPDATE user_account SET province_code = (SELECT MIN(province_code) FROM commune) "
        "WHERE role IN ('admin', 'analyst') AND (SELECT COUNT(DISTINCT province_code) FROM commune) = 1"
    )
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("mimetype", sa.String(length=120), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_job_status")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], ondelete="SET NULL", name=op.f("fk_job_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(op.f("ix_job_status"), "job", ["status"])
    op.create_index(op.f("ix_job_user_id"), "job", ["user_id"])
    op.create_index(op.f("ix_job_expires_at"), "job", ["expires_at"])
    op.create_table(
        "job_file_chunk",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], ondelete="CASCADE", name=op.f("fk_job_file_chunk_job_id_job")),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_job_file_chunk")),
    )
    op.create_table(
        "data_version",
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_data_version")),
    )
    op.create_table(
        "score_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data_version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_score_cache")),
    )


def downgrade():
    op.drop_table("score_cache")
    op.drop_table("data_version")
    op.drop_table("job_file_chunk")
    op.drop_index(op.f("ix_job_expires_at"), table_name="job")
    op.drop_index(op.f("ix_job_user_id"), table_name="job")
    op.drop_index(op.f("ix_job_status"), table_name="job")
    op.drop_table("job")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("province_code")
