"""Actual arrival and departure of a call (issue 13, point 6)

Reserved in advance so that work in parallel chains its migrations without conflict; a
revision whose work needed no schema change stays a no-op.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 02:40:00.000000
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
