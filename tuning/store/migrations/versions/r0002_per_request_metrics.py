"""Capacity and per-request metrics: a trial's capacity per scenario, and a round's goodput, SLO attainment and
output tokens/s per user.

Rounds stored before this revision keep them empty: their genai-bench files are read again only by a new run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = ("goodput", "slo_attainment", "output_throughput_per_user")


def upgrade() -> None:
    with op.batch_alter_table("benchmark_round") as table:
        for name in _COLUMNS:
            table.add_column(sa.Column(name, sa.Float(), nullable=True))
    with op.batch_alter_table("trial") as table:
        table.add_column(sa.Column("capacity", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trial") as table:
        table.drop_column("capacity")
    with op.batch_alter_table("benchmark_round") as table:
        for name in reversed(_COLUMNS):
            table.drop_column(name)
