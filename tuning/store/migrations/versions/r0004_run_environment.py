"""Where a run ran: the engine's version and the tune flow host's CPUs, memory and GPUs, for the report.

Runs stored before this revision have none: the report says it was not recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 13:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tuning_run") as table:
        table.add_column(sa.Column("environment", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tuning_run") as table:
        table.drop_column("environment")
