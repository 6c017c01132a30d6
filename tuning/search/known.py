"""Results a run did not measure itself: what earlier runs measured (``warm_start``), given to its study."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tuning.spec import Configuration


@dataclass(frozen=True)
class KnownResult:
    """One configuration an earlier run measured: its values (one per objective, the mean over its runs), its
    hard-SLO constraints (<= 0: held), and where it comes from (``run NAME (ID) trial N``)."""

    params: Configuration
    values: Sequence[float]
    constraints: Sequence[float]
    feasible: bool
    source: str


def best_first(known: Sequence[KnownResult], maximize: bool, index: int = 0) -> list[KnownResult]:
    """Feasible results first, each group by objective ``index``, best first."""
    return sorted(known, key=lambda k: (not k.feasible, -k.values[index] if maximize else k.values[index]))
