"""What became of a run and of a trial: the one vocabulary of states, and the typed value a trial flow returns
and the store records."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from tuning.evaluation.scoring import Score
from tuning.spec import Configuration


class RunState(StrEnum):
    running = "running"
    completed = "completed"  # the search ended; a best configuration may or may not have been found
    failed = "failed"  # every trial failed, or servetune itself did
    interrupted = "interrupted"  # Ctrl-C or SIGTERM
    regressed = "regressed"  # a recheck measured the best configuration worse than its baseline
    abandoned = "abandoned"  # shown, never stored: stored as running, but the process that owned it is gone


class TrialState(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"
    interrupted = "interrupted"
    repeated = "repeated"
    pruned = "pruned"
    rejected = "rejected"  # could not run (too many GPUs, flags the engine refuses); no engine was started
    abandoned = "abandoned"  # shown, never stored: stored as running, but the process that owned it is gone


class Phase(StrEnum):
    deploy = "deploy"
    ready = "ready"
    benchmark = "benchmark"
    score = "score"
    cleanup = "cleanup"


class TrialOutcome(BaseModel):
    number: int
    params: Configuration
    state: TrialState
    phase: Phase | None = Field(default=None, description="The phase the trial stopped in, if it failed")
    error: str | None = None
    score: Score | None = None
    command: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds spent in each phase")
    log_path: str | None = None
    log_tail: str | None = None
    results_dir: str | None = None
    stopped_early: str | None = Field(default=None, description="Why the benchmark stopped before its last level")
    saved_seconds: float | None = Field(default=None, description="Benchmark time the early stop saved (estimate)")
    engine_started_at: datetime | None = Field(default=None, description="When the deployer started the engine")
    engine_stopped_at: datetime | None = Field(default=None, description="When cleanup had removed the engine")

    @property
    def feasible(self) -> bool:
        return self.state is TrialState.succeeded and self.score is not None and self.score.feasible


class MeasuredTrial(Protocol):
    """A recorded trial, as ranking and the Pareto front read it (``tuning.store.Trial`` is one).

    ``score`` is the objective that ranks; ``objective_scores`` has one item per objective, in the spec's order.
    A confirmation run names the trial it measures again in ``confirms``.
    """

    @property
    def number(self) -> int: ...
    @property
    def params(self) -> Configuration: ...
    @property
    def state(self) -> str: ...
    @property
    def score(self) -> float | None: ...
    @property
    def feasible(self) -> bool | None: ...
    @property
    def objective_scores(self) -> Sequence[float] | None: ...
    @property
    def constraints(self) -> Sequence[float]: ...
    @property
    def violations(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def confirms(self) -> int | None: ...
    @property
    def stopped_early(self) -> str | None: ...


def scored(trial: MeasuredTrial) -> bool:
    """A trial that succeeded with a score: one that counts as a measurement of its configuration."""
    return trial.state == TrialState.succeeded and trial.score is not None


def measured_runs(
    trial: MeasuredTrial, trials: Sequence[MeasuredTrial], counts: Callable[[MeasuredTrial], bool]
) -> list[MeasuredTrial]:
    """A search trial and the confirmation runs of it that ``counts``: every measurement of one configuration."""
    return [trial, *(t for t in trials if t.confirms == trial.number and counts(t))]
