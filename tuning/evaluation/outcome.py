"""What became of a trial: the typed value a trial flow returns and the store records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from tuning.evaluation.scoring import Score
from tuning.spec import Configuration


class TrialState(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"
    interrupted = "interrupted"
    repeated = "repeated"
    pruned = "pruned"
    rejected = "rejected"  # could not run (too many GPUs, flags the engine refuses); no engine was started


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


def run_ending(exc: BaseException, message: str) -> tuple[str, str]:
    """The stored state and message of a run that ``exc`` ended: ``interrupted`` by Ctrl-C or SIGTERM, else
    ``failed`` with the error (unless the run had already said why)."""
    if not isinstance(exc, Exception):
        return "interrupted", f"interrupted ({type(exc).__name__})"
    return "failed", message or f"{type(exc).__name__}: {exc}"
