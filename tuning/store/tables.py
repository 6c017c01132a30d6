"""servetune's own tables: tuning runs, their trials and the benchmark rounds of each trial.

A change here is a schema change: it needs a new revision in ``tuning/store/migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, MetaData, UniqueConstraint
from sqlmodel import Field, SQLModel

from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import RunState, TrialState


def now() -> datetime:
    return datetime.now(UTC)


def _timestamp() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True)))


class RunKind(StrEnum):
    tune = "tune"  # a search for the best configuration
    recheck = "recheck"  # the `regression` flow measuring a tuning run's best configuration again


class TuningRun(SQLModel, table=True):
    __tablename__ = "tuning_run"

    id: str = Field(primary_key=True)
    name: str = Field(index=True)
    state: str = Field(default=RunState.running.value)
    engine: str
    model: str
    objective: str
    maximize: bool
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    message: str | None = None
    best_trial: int | None = None
    kind: str = Field(default=RunKind.tune.value, sa_column_kwargs={"server_default": RunKind.tune.value})
    prefect_flow_run_id: str | None = None
    started_at: datetime | None = _timestamp()
    finished_at: datetime | None = _timestamp()


class Trial(SQLModel, table=True):
    __tablename__ = "trial"
    __table_args__ = (UniqueConstraint("run_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="tuning_run.id", index=True)
    number: int
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default=TrialState.running.value)
    phase: str | None = None
    feasible: bool | None = None
    score: float | None = None
    objective_value: float | None = None
    penalty: float | None = None
    violations: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    constraints: list[float] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    error: str | None = None
    command: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    deploy_seconds: float | None = None
    ready_seconds: float | None = None
    benchmark_seconds: float | None = None
    cleanup_seconds: float | None = None
    total_seconds: float | None = None
    log_path: str | None = None
    log_tail: str | None = None
    results_dir: str | None = None
    stopped_early: str | None = None
    saved_seconds: float | None = None
    confirms: int | None = Field(default=None, description="For a confirmation run: the trial it measures again")
    objective_scores: list[float] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="Per objective of a multi-objective run (spec order), after soft penalties",
    )
    on_front: bool | None = Field(default=None, description="Whether the run's Pareto front holds this trial")
    owner: str | None = Field(default=None, description="host/pid of the process that ran the trial")
    started_at: datetime | None = _timestamp()
    finished_at: datetime | None = _timestamp()
    # The engine's own lifetime, inside the trial's: trials sharing GPUs (or a CPU slot) never overlap in it.
    engine_started_at: datetime | None = _timestamp()
    engine_stopped_at: datetime | None = _timestamp()


class BenchmarkRound(RoundMetrics, table=True):
    __tablename__ = "benchmark_round"

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)


metadata: MetaData = SQLModel.metadata
"""The metadata of servetune's tables (SQLModel's shared metadata: nothing else in servetune defines a table)."""

TABLE_NAMES = frozenset({"tuning_run", "trial", "benchmark_round"})
