"""`levels`: every listed concurrency level is measured, and every one must meet every hard SLO."""

from __future__ import annotations

from collections.abc import Sequence

from tuning.evaluation.load._base import CountedRounds
from tuning.evaluation.metrics import RoundMetrics
from tuning.spec import BenchmarkSpec, SLOSpec


class FixedLevels:
    def __init__(self, benchmark: BenchmarkSpec, slos: Sequence[SLOSpec]) -> None:
        self.levels, self.scenarios = benchmark.concurrency, benchmark.traffic_scenarios

    def next_levels(self, rounds: Sequence[RoundMetrics]) -> list[int] | None:
        return None if rounds else list(self.levels)

    def ends_run(self, rounds: Sequence[RoundMetrics]) -> bool:
        return False  # a broken hard SLO settles the whole trial, which the early-stop rule says

    def counted(self, rounds: Sequence[RoundMetrics]) -> CountedRounds:
        return CountedRounds(list(rounds), [], {})

    def last_round(self, rounds: Sequence[RoundMetrics]) -> bool:
        return len(rounds) >= len(self.levels) * len(self.scenarios)
