"""`capacity`: the highest concurrency at which every hard SLO holds, per traffic scenario.

The listed levels are an ascending ladder, run in one genai-bench process that stops at the first level breaking
a hard SLO. Then bisection between the last level that held and that one, a genai-bench run per step, until the
gap is at most ``resolution`` of the level that held (and at least one request). SGLang's ``auto_benchmark``
bisects QPS the same way; the ladder keeps the first, cheap answer in one process.

Latency grows with load, so one broken level puts every higher one beyond capacity. Noise can still let a higher
level pass after a lower one broke; capacity is the highest level that held *below* the lowest that broke.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from tuning.evaluation.load._base import CountedRounds
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.slo import breaks_hard_slo
from tuning.spec import BenchmarkSpec, SLOSpec


class CapacitySearch:
    def __init__(self, benchmark: BenchmarkSpec, slos: Sequence[SLOSpec]) -> None:
        self.ladder, self.resolution, self.slos = benchmark.concurrency, benchmark.resolution, list(slos)
        self.scenarios = benchmark.traffic_scenarios

    def bounds(self, rounds: Sequence[RoundMetrics]) -> tuple[int | None, int | None]:
        """(highest level that held below the lowest that broke, lowest that broke), None where there is none."""
        broke = [r.concurrency for r in rounds if breaks_hard_slo(r, self.slos)]
        ceiling = min(broke) if broke else None
        held = [r.concurrency for r in rounds if not breaks_hard_slo(r, self.slos)]
        below = [c for c in held if ceiling is None or c < ceiling]
        return (max(below) if below else None), ceiling

    def next_levels(self, rounds: Sequence[RoundMetrics]) -> list[int] | None:
        if not rounds:
            return list(self.ladder)
        held, broke = self.bounds(rounds)
        if held is None or broke is None:
            return None  # infeasible at the lowest level, or every level of the ladder held
        if broke - held <= max(1, math.floor(self.resolution * held)):
            return None
        return [(held + broke) // 2]

    def ends_run(self, rounds: Sequence[RoundMetrics]) -> bool:
        return breaks_hard_slo(rounds[-1], self.slos)

    def counted(self, rounds: Sequence[RoundMetrics]) -> CountedRounds:
        by_scenario: dict[str, list[RoundMetrics]] = defaultdict(list)
        for round_ in rounds:
            by_scenario[round_.scenario].append(round_)
        counted, beyond, capacity = [], [], {}
        for scenario, own in by_scenario.items():
            held, _ = self.bounds(own)
            if held is None:  # the lowest level measured broke: that round makes the configuration infeasible
                lowest = min(own, key=lambda r: r.concurrency)
                counted.append(lowest)
                beyond += [r for r in own if r is not lowest]
                continue
            capacity[scenario] = held
            counted += [r for r in own if r.concurrency == held]
            beyond += [r for r in own if r.concurrency > held]
        return CountedRounds(counted, beyond, capacity)

    def last_round(self, rounds: Sequence[RoundMetrics]) -> bool:
        return False  # bisection decides its own steps; a trial here never stops early to save a step
