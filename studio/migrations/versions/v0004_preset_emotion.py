"""presets: emotion, intensity, expressiveness, gaze (a preset carries the whole expression)

Why: a preset used to store only smile/brows/head motion/blink rate, so its emotion could
come only from prompt words; now it stores the emotion with its intensity, and the two
newer controls, like a segment override does. Existing rows get the defaults (neutral,
0.7, 1, 1), which render exactly as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("presets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emotion", sa.String(length=32), nullable=False,
                                      server_default="neutral"))
        batch_op.add_column(sa.Column("intensity", sa.Float(), nullable=False,
                                      server_default="0.7"))
        batch_op.add_column(sa.Column("expressiveness", sa.Float(), nullable=False,
                                      server_default="1.0"))
        batch_op.add_column(sa.Column("gaze", sa.Float(), nullable=False,
                                      server_default="1.0"))


def downgrade() -> None:
    with op.batch_alter_table("presets", schema=None) as batch_op:
        for name in ("gaze", "expressiveness", "intensity", "emotion"):
            batch_op.drop_column(name)
