"""When to stop benchmarking a configuration before its last concurrency level.

Levels run in ascending order. After each one the rounds so far are scored: a broken hard SLO settles the
trial, as higher load only adds latency; otherwise the score so far goes to the pruner (when there is one),
which may stop a configuration that is doing worse than earlier ones. The trial flow and the replay of a
recorded surface both follow this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.scoring import score
from tuning.spec import TuningSpec


class PruningReporter(Protocol):
    """A running trial's line to the pruner (``tuning.search.study.Reporter`` is one)."""

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...


@dataclass(frozen=True)
class EarlyStop:
    """Stop the benchmark here. ``pruned``: the pruner stopped it; else a hard SLO broke."""

    reason: str
    pruned: bool


def early_stop(
    spec: TuningSpec, rounds: list[RoundMetrics], step: int, reporter: PruningReporter | None, gpus: int
) -> EarlyStop | None:
    """After ``rounds`` so far, the pruner's step ``step`` (0-based): stop, and why, or None to go on.

    After the last round there is nothing left to save, so it never stops there (the pruner still hears the score).
    """
    level = rounds[-1].concurrency
    last = len(rounds) >= len(spec.benchmark.concurrency) * len(spec.benchmark.traffic_scenarios)
    partial = score(rounds, [spec.objective], spec.slos, gpus)
    if not partial.feasible:
        broken = "; ".join(sorted({v.slo for v in partial.violations if v.hard}))
        reason = f"stopped at concurrency {level}: hard SLO broken ({broken}), so higher levels were not run"
        return None if last else EarlyStop(reason, pruned=False)
    if reporter is None:
        return None
    reporter.report(partial.value, step)
    if reporter.should_prune() and not last:
        return EarlyStop(
            f"pruned at concurrency {level}: score so far {partial.value:.4g} is below earlier trials'", True
        )
    return None
