"""``tpe``: Optuna's multivariate TPE, learning from each trial's hard-SLO constraints as well as its score."""

from __future__ import annotations

from optuna.samplers import BaseSampler, TPESampler

from tuning.spec import StrategySpec


def startup_trials(strategy: StrategySpec) -> int:
    """Random trials before TPE starts learning: a quarter of the budget, 2 to 5.

    Optuna's default (10) is more than a 20-trial budget can spare when each trial costs minutes of GPU time.
    """
    return min(5, max(2, strategy.budget(0) // 4))


def tpe_sampler(strategy: StrategySpec) -> BaseSampler:
    # With trials in flight at once, the constant liar counts running trials as poor so parallel asks spread out.
    return TPESampler(
        multivariate=True,
        seed=strategy.seed,
        n_startup_trials=startup_trials(strategy),
        constant_liar=strategy.parallelism > 1,
    )
