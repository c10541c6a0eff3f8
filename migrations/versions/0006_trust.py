"""trust: registered API clients, session epochs, login delays, daily hash peppers

Revision ID: 0006_trust
Revises: 0005_module
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_trust"
down_revision = "0005_module"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_api_client_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("name", name=op.f("uq_api_client_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_client_token_hash")),
    )
    op.create_table(
        "api_client_commune",
        sa.Column("api_client_id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["api_client.id"],
            ondelete="CASCADE",
            name=op.f("fk_api_client_commune_api_client_id_api_client"),
        ),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["commune.code"], name=op.f("fk_api_client_commune_commune_code_commune")
        ),
        sa.PrimaryKeyConstraint("api_client_id", "commune_code", name=op.f("pk_api_client_commune")),
    )
    op.create_table(
        "hash_pepper",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("pepper", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_hash_pepper")),
    )
    # Plain ADD COLUMNs (no batch rebuild): rebuilding `response` on SQLite would cascade
    # deletes into its answers.
    if op.get_bind().dialect.name == "sqlite":  # SQLite adds a reference only inline
        op.execute(
            "ALTER TABLE response ADD COLUMN api_client_id INTEGER "
            "CONSTRAINT fk_response_api_client_id_api_client REFERENCES api_client (id)"
        )
    else:
        op.add_column("response", sa.Column("api_client_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_response_api_client_id_api_client", "response", "api_client", ["api_client_id"], ["id"]
        )
    op.add_column("user_account", sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))
    op.add_column("user_account", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
    op.add_column("user_account", sa.Column("login_delay_until", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("login_delay_until")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("session_epoch")
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_constraint("fk_response_api_client_id_api_client", type_="foreignkey")
        batch_op.drop_column("api_client_id")
    op.drop_table("hash_pepper")
    op.drop_table("api_client_commune")
    op.drop_table("api_client")
