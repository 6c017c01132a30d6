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
from tuning.evaluation.outcome import Phase, RunState, TrialState


def now() -> datetime:
    return datetime.now(UTC)


def _timestamp(description: str) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True)), description=description)


class RunKind(StrEnum):
    tune = "tune"  # a search for the best configuration
    recheck = "recheck"  # the `regression` flow measuring a tuning run's best configuration again


class TuningRun(SQLModel, table=True):
    __tablename__ = "tuning_run"

    id: str = Field(primary_key=True, description="The run id (`servetune show` takes it, a prefix of it, or the name)")
    name: str = Field(index=True, description="The spec's `name`; a rerun of the same name resumes or follows it")
    state: str = Field(default=RunState.running.value, description=f"One of {', '.join(RunState)}")
    engine: str = Field(description="`engine.name`")
    model: str = Field(description="`model.path` or the served model name")
    objective: str = Field(description="The ranking objective, with its unit")
    maximize: bool = Field(description="Whether a higher objective is better")
    spec: dict[str, Any] = Field(
        sa_column=Column(JSON, nullable=False), description="The whole spec as validated (the same fields as the YAML)"
    )
    message: str | None = Field(
        default=None, description="How the run ended, in a sentence: the best configuration or why there is none"
    )
    best_trial: int | None = Field(
        default=None, description="The number of the trial the run concluded is best (the one every command names)"
    )
    kind: str = Field(
        default=RunKind.tune.value,
        sa_column_kwargs={"server_default": RunKind.tune.value},
        description=f"One of {', '.join(RunKind)}: a search, or a regression run measuring a best configuration again",
    )
    prefect_flow_run_id: str | None = Field(default=None, description="The Prefect flow run that ran it")
    owner: str | None = Field(
        default=None,
        description="host/pid of the process running the run, null once it ended: while that process lives, another "
        "`tune` of the name is refused, and once it is gone the run shows as abandoned",
    )
    environment: dict[str, str] | None = Field(
        default=None,
        sa_column=Column(JSON),
        description="Where the run ran, as labelled strings: the engine's version, and the tune flow host's CPUs, "
        "memory, GPUs and servetune and Python versions, and the earlier runs a warm start learnt from (`warm start`); "
        "null for runs stored before servetune recorded it",
    )
    started_at: datetime | None = _timestamp("When the run started (UTC)")
    finished_at: datetime | None = _timestamp("When the run ended (UTC)")


class Trial(SQLModel, table=True):
    __tablename__ = "trial"
    __table_args__ = (UniqueConstraint("run_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="tuning_run.id", index=True)
    number: int = Field(description="Trial number within the run, from the Optuna study")
    params: dict[str, Any] = Field(
        sa_column=Column(JSON, nullable=False),
        description="The configuration: engine flag name to value; empty for a measurement of the engine's defaults "
        "(`measure_defaults`)",
    )
    state: str = Field(default=TrialState.running.value, description=f"One of {', '.join(TrialState)}")
    phase: str | None = Field(default=None, description=f"The phase the trial reached last: one of {', '.join(Phase)}")
    feasible: bool | None = Field(default=None, description="Whether every hard SLO held")
    score: float | None = Field(default=None, description="The ranking objective after soft SLO penalties")
    objective_value: float | None = Field(default=None, description="The ranking objective before penalties")
    penalty: float | None = Field(
        default=None,
        description="The soft SLO penalty: a maximized objective is divided by 1 + penalty, a minimized one multiplied",
    )
    violations: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="Each SLO broken: its name, limit, observed value and round",
    )
    constraints: list[float] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="Per hard SLO, the worst round's signed relative excess (<= 0 met)",
    )
    error: str | None = Field(default=None, description="Why the trial failed, was rejected or was stopped")
    command: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="The argv that launched the engine (secrets are never in it)",
    )
    deploy_seconds: float | None = Field(
        default=None, description="Seconds to start the engine (process, container or InferenceService)"
    )
    ready_seconds: float | None = Field(default=None, description="Seconds from started to serving a completion")
    benchmark_seconds: float | None = Field(
        default=None, description="Seconds of the benchmark phase, genai-bench start-up and reports included"
    )
    cleanup_seconds: float | None = Field(default=None, description="Seconds to stop and remove the engine")
    total_seconds: float | None = Field(default=None, description="The trial's wall time")
    log_path: str | None = Field(default=None, description="The engine's log file")
    log_tail: str | None = Field(default=None, description="The end of the engine's log, for a failed trial")
    results_dir: str | None = Field(default=None, description="genai-bench's result folder")
    stopped_early: str | None = Field(
        default=None, description="Why the benchmark stopped before the last level, if it did"
    )
    saved_seconds: float | None = Field(default=None, description="Benchmark seconds an early stop saved (estimated)")
    confirms: int | None = Field(default=None, description="For a confirmation run: the trial it measures again")
    objective_scores: list[float] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="Per objective of a multi-objective run (spec order), after soft penalties",
    )
    on_front: bool | None = Field(default=None, description="Whether the run's Pareto front holds this trial")
    capacity: dict[str, int] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="Capacity mode: per traffic scenario, the highest concurrency that met every hard SLO",
    )
    owner: str | None = Field(default=None, description="host/pid of the process that ran the trial")
    started_at: datetime | None = _timestamp("When the trial started (UTC)")
    finished_at: datetime | None = _timestamp("When the trial ended (UTC)")
    # The engine's own lifetime, inside the trial's: trials sharing GPUs (or a CPU slot) never overlap in it.
    engine_started_at: datetime | None = _timestamp("When the trial's engine was started (UTC)")
    engine_stopped_at: datetime | None = _timestamp("When the trial's engine was stopped (UTC)")


class BenchmarkRound(RoundMetrics, table=True):
    __tablename__ = "benchmark_round"

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)


metadata: MetaData = SQLModel.metadata
"""The metadata of servetune's tables (SQLModel's shared metadata: nothing else in servetune defines a table)."""

TABLE_NAMES = frozenset({"tuning_run", "trial", "benchmark_round"})
