"""Agency relations (a carrier files for its principals) and the counter office of a
storage-media upload (issue 12)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("carrier_code", sa.String(20), nullable=False),
        sa.Column("principal_npwp", sa.String(16), nullable=False),
        sa.Column("principal_name", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date()),
        sa.Column("reference", sa.String(100)),
        sa.ForeignKeyConstraint(
            ["carrier_code"], ["carriers.code"], name="fk_agencies_carrier_code_carriers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint(
            "carrier_code",
            "principal_npwp",
            "valid_from",
            name="uq_agencies_carrier_code_principal_npwp_valid_from",
        ),
    )
    op.create_index("ix_agencies_carrier_code", "agencies", ["carrier_code"])
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("counter_office", sa.String(6)))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("counter_office")
    op.drop_index("ix_agencies_carrier_code", table_name="agencies")
    op.drop_table("agencies")
