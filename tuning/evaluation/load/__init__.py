"""Load modes: how a trial chooses the concurrency levels it measures, one module each.

A mode is a :class:`LoadPlan`: given a scenario's rounds so far it names the levels of the next genai-bench run, says
whether a round that just landed ends the run, and which rounds a score is read from. A new mode is a new module
and an entry in ``LOAD_PLANS``.
"""

from tuning.evaluation.load._base import CountedRounds, LoadPlan
from tuning.evaluation.load.capacity import CapacitySearch
from tuning.evaluation.load.levels import FixedLevels
from tuning.spec import BenchmarkSpec, LoadMode, SLOSpec

LOAD_PLANS: dict[LoadMode, type[FixedLevels] | type[CapacitySearch]] = {
    LoadMode.levels: FixedLevels,
    LoadMode.capacity: CapacitySearch,
}


def load_plan(benchmark: BenchmarkSpec, slos: list[SLOSpec]) -> LoadPlan:
    return LOAD_PLANS[benchmark.mode](benchmark, slos)


__all__ = ["LOAD_PLANS", "CapacitySearch", "CountedRounds", "FixedLevels", "LoadPlan", "load_plan"]
