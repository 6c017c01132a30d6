"""``nsga2``: Optuna's NSGA-II for two or more objectives, with a generation sized to the budget."""

from __future__ import annotations

from optuna.samplers import BaseSampler, NSGAIISampler

from tuning.spec import StrategySpec


def nsga2_sampler(strategy: StrategySpec) -> BaseSampler:
    # Optuna's default generation of 50 would leave a 20-trial budget all random: four generations or more fit in.
    population = min(50, max(4, strategy.budget(0) // 4))
    return NSGAIISampler(population_size=population, seed=strategy.seed)
