"""Search strategies: one Optuna sampler factory per ``strategy.name``; a new strategy is a new module here."""

from __future__ import annotations

from collections.abc import Callable

from optuna.samplers import BaseSampler, RandomSampler

from tuning.search.samplers.gp import MissingExtra, gp_sampler
from tuning.search.samplers.nsga2 import nsga2_sampler
from tuning.search.samplers.tpe import tpe_sampler
from tuning.spec import StrategyName, StrategySpec

SAMPLERS: dict[StrategyName, Callable[[StrategySpec], BaseSampler]] = {
    # The grid's points are enqueued in order, so its sampler only ever fills enqueued values.
    StrategyName.grid: lambda strategy: RandomSampler(seed=strategy.seed),
    StrategyName.random: lambda strategy: RandomSampler(seed=strategy.seed),
    StrategyName.tpe: tpe_sampler,
    StrategyName.gp: gp_sampler,
    StrategyName.nsga2: nsga2_sampler,
}

__all__ = ["SAMPLERS", "MissingExtra"]
