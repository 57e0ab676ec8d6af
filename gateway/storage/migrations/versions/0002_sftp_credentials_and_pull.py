"""SFTP: carriers' credentials for the embedded server, endpoints for pulling

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_credentials",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("carrier_code", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key_type", sa.String(length=40), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["carrier_code"],
            ["carriers.code"],
            name=op.f("fk_partner_credentials_carrier_code_carriers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_credentials")),
        sa.UniqueConstraint(
            "carrier_code",
            "fingerprint",
            name=op.f("uq_partner_credentials_carrier_code_fingerprint"),
        ),
    )
    with op.batch_alter_table("partner_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_credentials_carrier_code"), ["carrier_code"], unique=False
        )

    op.create_table(
        "pull_endpoints",
        sa.Column("carrier_code", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("private_key_path", sa.Text(), nullable=False),
        sa.Column("host_key_type", sa.String(length=40), nullable=False),
        sa.Column("host_key", sa.Text(), nullable=False),
        sa.Column("remote_inbox", sa.Text(), nullable=False),
        sa.Column("remote_outbox", sa.Text(), nullable=False),
        sa.Column("remote_done", sa.Text(), nullable=True),
        sa.Column("poll_seconds", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_code"],
            ["carriers.code"],
            name=op.f("fk_pull_endpoints_carrier_code_carriers"),
        ),
        sa.PrimaryKeyConstraint("carrier_code", name=op.f("pk_pull_endpoints")),
    )


def downgrade() -> None:
    op.drop_table("pull_endpoints")
    with op.batch_alter_table("partner_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_credentials_carrier_code"))

    op.drop_table("partner_credentials")
