"""``tpe``: Optuna's multivariate TPE, told hard SLOs as constraints."""

from __future__ import annotations

from optuna.samplers import BaseSampler, TPESampler

from tuning.samplers.startup import startup_trials
from tuning.spec import StrategySpec


def tpe_sampler(strategy: StrategySpec) -> BaseSampler:
    # With trials in flight at once, the constant liar counts running trials as poor so parallel asks spread out.
    return TPESampler(
        multivariate=True,
        seed=strategy.seed,
        n_startup_trials=startup_trials(strategy),
        constant_liar=strategy.parallelism > 1,
    )
