"""Amendments with their decisions, versioned pos history, pos closings (issue 6, Art. 6, 10)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _when(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, gateway.storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Existing pos keep version 1 without content (it was never stored) and unknown totals.
    with op.batch_alter_table("manifest_pos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("packages", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("gross_weight_g", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("packages_closed", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("gross_weight_g_closed", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(_when("closed_at", nullable=True))

    op.create_table(
        "amendments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("document_id", _ID, nullable=False),
        sa.Column("bc11_document_id", _ID, nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("pos_number", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("content", _JSON, nullable=False),
        _when("requested_at", nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        _when("decided_at", nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_amendments_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["bc11_document_id"],
            ["documents.id"],
            name=op.f("fk_amendments_bc11_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendments")),
        sa.UniqueConstraint("document_id", name=op.f("uq_amendments_document_id")),
    )
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_amendments_bc11_document_id"), ["bc11_document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_amendments_office_code"), ["office_code"])
        batch_op.create_index(batch_op.f("ix_amendments_status"), ["status"], unique=False)

    op.create_table(
        "pos_versions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("pos_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", _JSON, nullable=False),
        sa.Column("amendment_id", _ID, nullable=True),
        _when("valid_from", nullable=False),
        sa.ForeignKeyConstraint(
            ["pos_id"], ["manifest_pos.id"], name=op.f("fk_pos_versions_pos_id_manifest_pos")
        ),
        sa.ForeignKeyConstraint(
            ["amendment_id"],
            ["amendments.id"],
            name=op.f("fk_pos_versions_amendment_id_amendments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pos_versions")),
        sa.UniqueConstraint("pos_id", "version", name=op.f("uq_pos_versions_pos_id_version")),
    )

    op.create_table(
        "pos_closings",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("pos_id", _ID, nullable=False),
        sa.Column("document_id", _ID, nullable=False),
        sa.Column("closing_code", sa.String(length=10), nullable=False),
        sa.Column("closing_number", sa.String(length=64), nullable=False),
        sa.Column("closing_date", sa.Date(), nullable=False),
        sa.Column("packages_closed", sa.Integer(), nullable=True),
        sa.Column("gross_weight_g_closed", sa.BigInteger(), nullable=True),
        _when("closed_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["pos_id"], ["manifest_pos.id"], name=op.f("fk_pos_closings_pos_id_manifest_pos")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_pos_closings_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pos_closings")),
        sa.UniqueConstraint("document_id", name=op.f("uq_pos_closings_document_id")),
    )
    with op.batch_alter_table("pos_closings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pos_closings_pos_id"), ["pos_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pos_closings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pos_closings_pos_id"))
    op.drop_table("pos_closings")
    op.drop_table("pos_versions")
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_amendments_status"))
        batch_op.drop_index(batch_op.f("ix_amendments_office_code"))
        batch_op.drop_index(batch_op.f("ix_amendments_bc11_document_id"))
    op.drop_table("amendments")
    with op.batch_alter_table("manifest_pos", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("gross_weight_g_closed")
        batch_op.drop_column("packages_closed")
        batch_op.drop_column("gross_weight_g")
        batch_op.drop_column("packages")
        batch_op.drop_column("version")
