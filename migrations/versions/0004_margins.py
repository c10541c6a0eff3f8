"""population margins per commune (sex, age band, ethnic group) for raking

Revision ID: 0004_margins
Revises: 0003_quality
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_margins"
down_revision = "0003_quality"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "population_margin",
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("variable", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "variable IN ('sex', 'age_band', 'ethnic_group')", name=op.f("ck_population_margin_variable")
        ),
        sa.CheckConstraint("population >= 0", name=op.f("ck_population_margin_population")),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["commune.code"], name=op.f("fk_population_margin_commune_code_commune")
        ),
        sa.PrimaryKeyConstraint("commune_code", "variable", "category", name=op.f("pk_population_margin")),
    )


def downgrade():
    op.drop_table("population_margin")
