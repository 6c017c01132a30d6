"""How the spec's search space is put to Optuna: one distribution per dimension, and the way back.

A list of numbers is ordered: 8 lies between 4 and 16. As a categorical, a model-based sampler (TPE, GP) would
learn nothing about 8 from what 4 and 16 did. So a list of two or more numbers reaches Optuna as the positions
0 .. n-1 of its sorted values (an ``IntDistribution``); the study stores positions and servetune's tables store
values. On a list of powers of two a position is the log of the value, on an evenly spaced list the value
itself. Other lists (strings, booleans, mixtures) stay categorical.

A grid walks exact values and keeps categoricals. A study that already holds trials keeps the distributions it
was created with, so a run resumed across versions of this encoding asks what it asked before.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from tuning.search.space import dimension_values
from tuning.spec import Configuration, Dimension, ParamValue


def _ordered_values(dimension: Dimension) -> list[int | float] | None:
    """The sorted values of a list of two or more numbers; None for any other dimension."""
    values = dimension.values
    if values is None or len(values) < 2:
        return None
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return sorted(numbers) if len(numbers) == len(values) else None


def distribution(name: str, dimension: Dimension, walk_grid: bool) -> BaseDistribution:
    """The Optuna distribution of one dimension when a study is new."""
    if walk_grid:
        return CategoricalDistribution(dimension_values(name, dimension))
    if (ordered := _ordered_values(dimension)) is not None:
        return IntDistribution(0, len(ordered) - 1)
    if dimension.values is not None:
        return CategoricalDistribution(dimension.values)
    assert dimension.low is not None and dimension.high is not None
    if dimension.is_int_range:
        step = 1 if dimension.log else int(dimension.step or 1)
        return IntDistribution(int(dimension.low), int(dimension.high), step=step, log=dimension.log)
    return FloatDistribution(float(dimension.low), float(dimension.high), step=dimension.step, log=dimension.log)


class OptunaSpace:
    """The distributions a study asks with, and the translation between its parameters and configurations."""

    def __init__(
        self,
        search_space: dict[str, Dimension],
        walk_grid: bool,
        recorded: dict[str, BaseDistribution] | None = None,
    ) -> None:
        """``recorded``: the distributions of an existing study's trials, which take precedence."""
        recorded = recorded or {}
        self.distributions: dict[str, BaseDistribution] = {}
        self._positions: dict[str, Sequence[ParamValue]] = {}
        for name, dimension in search_space.items():
            chosen = recorded.get(name) or distribution(name, dimension, walk_grid)
            ordered = _ordered_values(dimension)
            if ordered is not None and isinstance(chosen, IntDistribution) and chosen.high == len(ordered) - 1:
                self._positions[name] = ordered
            self.distributions[name] = chosen

    def configuration(self, params: dict[str, ParamValue]) -> Configuration:
        """The configuration a study's parameters stand for."""
        return {
            name: self._positions[name][int(value)] if name in self._positions else value
            for name, value in params.items()
        }

    def params(self, configuration: Configuration) -> dict[str, ParamValue]:
        """The study's parameters for a configuration (to enqueue it)."""
        return {
            name: self._positions[name].index(value) if name in self._positions else value
            for name, value in configuration.items()
        }

    def draw(self, draws: optuna.Study) -> dict[str, ParamValue]:
        """Study parameters drawn at random (log-uniformly on a log range), by ``draws``: a study whose
        sampler is Optuna's RandomSampler, kept apart from the run's study."""
        return draws.ask(self.distributions).params
