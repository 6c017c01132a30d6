"""The schema of release 0.1.0 (commit f731df4): the tables its ``create_all`` made.

A database made by 0.1.0 has these tables and no version table; servetune stamps it with this revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-01 11:42:22.511528
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tuning_run",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("engine", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("objective", sa.String(), nullable=False),
        sa.Column("maximize", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("message", sa.String(), nullable=True),
        sa.Column("best_trial", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(), server_default="tune", nullable=False),
        sa.Column("prefect_flow_run_id", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tuning_run_name", "tuning_run", ["name"], unique=False)

    op.create_table(
        "trial",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=True),
        sa.Column("feasible", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("objective_value", sa.Float(), nullable=True),
        sa.Column("penalty", sa.Float(), nullable=True),
        sa.Column("violations", sa.JSON(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("deploy_seconds", sa.Float(), nullable=True),
        sa.Column("ready_seconds", sa.Float(), nullable=True),
        sa.Column("benchmark_seconds", sa.Float(), nullable=True),
        sa.Column("cleanup_seconds", sa.Float(), nullable=True),
        sa.Column("total_seconds", sa.Float(), nullable=True),
        sa.Column("log_path", sa.String(), nullable=True),
        sa.Column("log_tail", sa.String(), nullable=True),
        sa.Column("results_dir", sa.String(), nullable=True),
        sa.Column("stopped_early", sa.String(), nullable=True),
        sa.Column("saved_seconds", sa.Float(), nullable=True),
        sa.Column("confirms", sa.Integer(), nullable=True),
        sa.Column("objective_scores", sa.JSON(), nullable=True),
        sa.Column("on_front", sa.Boolean(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("engine_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("engine_stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["tuning_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "number"),
    )
    op.create_index("ix_trial_run_id", "trial", ["run_id"], unique=False)

    op.create_table(
        "benchmark_round",
        sa.Column("scenario", sa.String(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("ttft_mean", sa.Float(), nullable=False),
        sa.Column("ttft_p50", sa.Float(), nullable=False),
        sa.Column("ttft_p90", sa.Float(), nullable=False),
        sa.Column("ttft_p99", sa.Float(), nullable=False),
        sa.Column("tpot_mean", sa.Float(), nullable=False),
        sa.Column("tpot_p50", sa.Float(), nullable=False),
        sa.Column("tpot_p90", sa.Float(), nullable=False),
        sa.Column("tpot_p99", sa.Float(), nullable=False),
        sa.Column("e2e_latency_mean", sa.Float(), nullable=False),
        sa.Column("e2e_latency_p50", sa.Float(), nullable=False),
        sa.Column("e2e_latency_p90", sa.Float(), nullable=False),
        sa.Column("e2e_latency_p99", sa.Float(), nullable=False),
        sa.Column("input_throughput", sa.Float(), nullable=False),
        sa.Column("output_throughput", sa.Float(), nullable=False),
        sa.Column("total_throughput", sa.Float(), nullable=False),
        sa.Column("requests_per_second", sa.Float(), nullable=False),
        sa.Column("error_rate", sa.Float(), nullable=False),
        sa.Column("num_completed", sa.Integer(), nullable=False),
        sa.Column("num_failed", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trial.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_benchmark_round_trial_id", "benchmark_round", ["trial_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_benchmark_round_trial_id", table_name="benchmark_round")

    op.drop_table("benchmark_round")
    op.drop_index("ix_trial_run_id", table_name="trial")

    op.drop_table("trial")
    op.drop_index("ix_tuning_run_name", table_name="tuning_run")

    op.drop_table("tuning_run")
