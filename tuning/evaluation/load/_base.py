"""What every load mode answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from tuning.evaluation.metrics import RoundMetrics


class CountedRounds(NamedTuple):
    """``counted``: the rounds a score reads its objectives and SLOs from. ``beyond``: rounds past a
    configuration's capacity, which broke a hard SLO without making it infeasible. ``capacity``: per scenario,
    the highest level that met every hard SLO (empty when the mode does not look for it)."""

    counted: list[RoundMetrics]
    beyond: list[RoundMetrics]
    capacity: dict[str, int]


class LoadPlan(Protocol):
    def next_levels(self, rounds: Sequence[RoundMetrics]) -> list[int] | None:
        """Given one scenario's rounds so far, the levels of its next genai-bench run; None when it is done."""
        ...

    def ends_run(self, rounds: Sequence[RoundMetrics]) -> bool:
        """After a round of the scenario lands (the last of ``rounds``): whether its genai-bench run stops here."""
        ...

    def counted(self, rounds: Sequence[RoundMetrics]) -> CountedRounds:
        """Which of a trial's rounds (every scenario) its score is read from."""
        ...

    def last_round(self, rounds: Sequence[RoundMetrics]) -> bool:
        """Whether the trial has no round left to run after ``rounds`` (every scenario): nothing left to save."""
        ...
