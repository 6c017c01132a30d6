"""The owner of a run: ``host/pid`` of the process running it, so that a second process refuses to join it and
a run whose process died can be shown as abandoned.

Runs stored before this revision have no owner: a resume takes them over, and they are shown as stored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 07:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tuning_run") as table:
        table.add_column(sa.Column("owner", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tuning_run") as table:
        table.drop_column("owner")
