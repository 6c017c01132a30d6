"""When to stop benchmarking a configuration before its last concurrency level.

Levels run in ascending order. After each one the rounds so far are scored as the load mode reads them: a hard
SLO broken where it makes the configuration infeasible (any level in `levels` mode, as higher load only adds
latency; the lowest level in `capacity` mode) settles the trial; otherwise the score so far goes to the pruner
(when there is one), which may stop a configuration that is doing worse than earlier ones. The trial flow and
the replay of a recorded surface both follow this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tuning.evaluation.load import load_plan
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.scoring import score_trial
from tuning.spec import LoadMode, TuningSpec


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
    last = load_plan(spec.benchmark, spec.slos).last_round(rounds)
    partial = score_trial(spec, rounds, gpus, objectives=[spec.objective])
    if not partial.feasible:
        broken = "; ".join(sorted({v.slo for v in partial.violations if v.hard and not v.beyond_capacity}))
        if spec.benchmark.mode is LoadMode.capacity:
            reason = f"stopped at concurrency {level}: hard SLO broken at the lowest level ({broken}): no load meets it"
        else:
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
