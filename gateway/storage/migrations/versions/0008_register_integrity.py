"""One number per call: keys that make a second BC 1.0/1.1 for a call impossible (issue 13, points 1-3)

Reserved in advance so that work in parallel chains its migrations without conflict; a
revision whose work needed no schema change stays a no-op.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:40:00.000000
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
