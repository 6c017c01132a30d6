"""How many trials a model-based sampler draws before it starts learning."""

from __future__ import annotations

from tuning.spec import StrategySpec


def startup_trials(strategy: StrategySpec) -> int:
    """Trials drawn before a model-based sampler starts learning: a quarter of the budget, 2 to 5.

    Optuna's default (10) is more than a 20-trial budget can spare when each trial costs minutes of GPU time.
    """
    return min(5, max(2, strategy.budget(0) // 4))
