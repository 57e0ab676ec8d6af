"""Actual arrival and departure of a call (issue 13, point 6)

The table ``call_facts``: what actually happened at a registered BC 1.0's call, keyed in by
an officer or reported by the carrier; the deadline watch and the deadline rules rest on it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, gateway.storage.types.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "call_facts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("registration_id", _ID, nullable=False),
        sa.Column("office_code", sa.String(6), nullable=False),
        sa.Column("voyage", sa.String(35), nullable=False),
        sa.Column("event", sa.String(10), nullable=False),
        _when("occurred_at"),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("recorded_by", sa.String(80), nullable=False),
        _when("recorded_at"),
        sa.Column("document_id", _ID),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name="fk_call_facts_registration_id_registrations",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_call_facts_document_id_documents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_call_facts"),
    )
    op.create_index("ix_call_facts_registration_id", "call_facts", ["registration_id"])


def downgrade() -> None:
    op.drop_index("ix_call_facts_registration_id", table_name="call_facts")
    op.drop_table("call_facts")
