"""A run as the plots read it: its trials, their rounds, its objectives and SLOs, and its best so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from pydantic import TypeAdapter, ValidationError

from tuning.evaluation.outcome import RunState, TrialState
from tuning.evaluation.pareto import Goal
from tuning.evaluation.ranking import conclude
from tuning.spec import Configuration, SLOMetric, SLOSpec
from tuning.store import BenchmarkRound, Store, Trial, TuningRun

GPUCount = Callable[[Configuration], int]


@dataclass
class RunView:
    store: Store
    run: TuningRun
    gpus: GPUCount | None = None
    """GPUs one trial's configuration occupies, as its engine counts them; unknown (None), per-GPU axes read
    per server."""
    _rounds: dict[int, list[BenchmarkRound]] = field(default_factory=dict)

    @cached_property
    def trials(self) -> list[Trial]:
        return self.store.trials(self.run.id)

    @cached_property
    def goal(self) -> Goal:
        return Goal.of_stored_spec(self.run.spec)

    @cached_property
    def slos(self) -> list[SLOSpec]:
        """The run's SLOs; none when a spec stored by an earlier release does not read as today's."""
        try:
            return TypeAdapter(list[SLOSpec]).validate_python(self.run.spec.get("slos") or [])
        except ValidationError:
            return []

    @property
    def latency_slos(self) -> list[SLOSpec]:
        return [slo for slo in self.slos if slo.metric is not SLOMetric.error_rate]

    @property
    def parameters(self) -> list[str]:
        """The tuned flags: the spec's search space, in its order (else whatever the trials varied)."""
        space = list(self.run.spec.get("search_space") or {})
        return space or sorted({name for t in self.trials for name in t.params})

    @cached_property
    def best(self) -> int | None:
        """The run's best (or picked) trial: as stored once it ended, as the rules would say so far while it runs."""
        if self.run.state != RunState.running:
            return self.run.best_trial
        best = conclude(self.trials, self.goal).best
        return best.number if best else None

    def rounds(self, trial: Trial) -> list[BenchmarkRound]:
        if trial.id is None:
            return []
        if trial.id not in self._rounds:
            self._rounds[trial.id] = self.store.rounds(trial.id)
        return self._rounds[trial.id]

    def measured(self) -> list[Trial]:
        """Search trials (not confirmations) that were measured to the end and scored."""
        return [
            t for t in self.trials if t.confirms is None and t.state == TrialState.succeeded and t.score is not None
        ]

    def gpu_count(self, trial: Trial) -> int:
        return max(1, self.gpus(trial.params)) if self.gpus is not None else 1
