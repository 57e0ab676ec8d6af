"""Failed log-ins counted in the database, shared by every gateway process (issue 12)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, gateway.storage.types.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("door", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        _when("first_at"),
        _when("last_at"),
        sa.PrimaryKeyConstraint("door", "username", "address", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_last_at"), "login_failures", ["last_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_last_at"), table_name="login_failures")
    op.drop_table("login_failures")
