"""Amendment decisions answered on the carrier's channel (issue 13, point 4)

Reserved in advance so that work in parallel chains its migrations without conflict; a
revision whose work needed no schema change stays a no-op.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:40:00.000000
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
