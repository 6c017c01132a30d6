"""The search space: from spec dimensions to the concrete configurations a strategy may try."""

from __future__ import annotations

import itertools
import math

from tuning.errors import UserInputError
from tuning.spec import Configuration, Dimension, TuningSpec

# A grid this large is a mistake in the spec, not a tuning plan.
MAX_GRID_SIZE = 100_000


class SearchSpaceError(UserInputError):
    pass


def dimension_values(name: str, dimension: Dimension) -> list[bool | int | float | str]:
    """The discrete values of one dimension, in the order a grid walks them."""
    if dimension.values is not None:
        return list(dimension.values)
    assert dimension.low is not None and dimension.high is not None
    where = f"search_space.{name}"
    if dimension.log:
        raise SearchSpaceError(f"{where}: a log range cannot be walked by the grid strategy; list the values")
    if dimension.is_int_range:
        return list(range(int(dimension.low), int(dimension.high) + 1, int(dimension.step or 1)))
    if dimension.step is None:
        raise SearchSpaceError(f"{where}: a float range needs a step for the grid strategy")
    return [round(v, 12) for v in float_steps(dimension.low, dimension.high, dimension.step)]


def float_steps(low: float, high: float, step: float) -> list[float]:
    """``low``, ``low + step``, ... up to ``high`` (included when it lies on a step, within rounding)."""
    count = math.floor((high - low) / step + 1e-9) + 1
    return [low + i * step for i in range(count)]


def _dimension_size(name: str, dimension: Dimension) -> int:
    size = dimension.grid_size
    # A range a grid cannot walk: dimension_values says why.
    return size if size is not None else len(dimension_values(name, dimension))


def grid_size(spec: TuningSpec) -> int:
    """How many configurations the grid holds, counted without building it."""
    return math.prod(_dimension_size(n, d) for n, d in spec.search_space.items())


def grid(spec: TuningSpec) -> list[Configuration]:
    """Every combination of the dimensions' values, the first dimension varying slowest."""
    size = grid_size(spec)
    if size > MAX_GRID_SIZE:
        raise SearchSpaceError(f"search_space: the grid has {size} configurations, more than {MAX_GRID_SIZE}")
    names = list(spec.search_space)
    axes = [dimension_values(n, spec.search_space[n]) for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]


def configurations(spec: TuningSpec) -> list[Configuration]:
    """The configurations the run will try, capped by ``strategy.max_trials``."""
    configs = grid(spec)
    if spec.strategy.max_trials is not None:
        configs = configs[: spec.strategy.max_trials]
    return configs
