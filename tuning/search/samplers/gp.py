"""``gp``: Optuna's GPSampler, choosing among the configurations not tried yet when there are finitely many.

Optuna's GPSampler finds the best point of its acquisition function by local search from random starts, over
a relaxed, continuous version of the space. On a serving search space that is a handful of listed values per
flag, that search may settle on a configuration already measured: a repeat, which tells the model nothing new
and spends a trial of the budget. When the space is finite and small enough to list, this sampler instead
scores every configuration not yet tried with Optuna's own acquisition function (same Gaussian process, same
hard-SLO constraints, same handling of trials in flight) and takes the best. Larger or continuous spaces are
left to Optuna's optimizer. Start-up trials, before the model has data, are random untried configurations; and a
categorical value that has had no fair test yet gets one before the model chooses (``categorical_probe``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, GPSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaTrialState

from tuning.errors import MissingExtra
from tuning.search.samplers.categorical_probe import categorical_probe
from tuning.search.samplers.constraints import ABANDONED_ATTR
from tuning.search.space import float_steps
from tuning.spec import StrategySpec

# Random untried configurations before the model starts: one. From the second trial on, the Gaussian process
# chooses (Optuna's default is 10 random ones). On both recorded surfaces (docs/search-efficiency.md), 1 needed a
# median of 8.5 and 5 trials where 2 needed 9.5 and 7, and 5 needed 11.5 and 9.5; on generated noisy surfaces 1
# did no worse than 2 or 5. (Measured before the preference for likely feasible configurations below.)
STARTUP_TRIALS = 1
# Chance of meeting every hard SLO above which an untried configuration counts as likely feasible (see
# _optimize_acqf).
LIKELY_FEASIBLE = 0.25
# Up to this many configurations, every untried one is scored; the acquisition function costs microseconds each.
MAX_LISTED_CONFIGURATIONS = 20_000
# A configuration is tried once a trial ran it, is running it, was pruned or rejected on it, or failed on it.
# A trial abandoned by a dead process did not try it.
_TRIED_STATES = (OptunaTrialState.COMPLETE, OptunaTrialState.RUNNING, OptunaTrialState.PRUNED, OptunaTrialState.FAIL)


def _values(distribution: BaseDistribution) -> list[Any] | None:
    """Every value of a discrete distribution; None for a continuous one."""
    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, IntDistribution):
        return list(range(distribution.low, distribution.high + 1, distribution.step))
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        return float_steps(distribution.low, distribution.high, distribution.step)
    return None


def untried_configurations(
    study: Study, trials: list[FrozenTrial], search_space: dict[str, BaseDistribution]
) -> list[dict[str, Any]] | None:
    """The points of a finite ``search_space`` that none of ``trials`` (the study's) has tried; None if the space
    is too large to list."""
    axes = [_values(d) for d in search_space.values()]
    if any(a is None for a in axes) or math.prod(len(a) for a in axes if a is not None) > MAX_LISTED_CONFIGURATIONS:
        return None
    names = list(search_space)
    abandoned = set(study.user_attrs.get(ABANDONED_ATTR, []))
    tried = {
        tuple(t.params[n] for n in names)
        for t in trials
        if t.state in _TRIED_STATES and t.number not in abandoned and all(n in t.params for n in names)
    }
    return [
        dict(zip(names, point, strict=True))
        for point in itertools.product(*axes)  # type: ignore[arg-type]
        if point not in tried
    ]


def _log_probability_feasible(acqf: Any, candidates: np.ndarray) -> np.ndarray | None:
    """log P(every hard SLO holds) per candidate, from the constraint models of Optuna's LogCEI (optuna 5.0);
    None for an acquisition function without constraints."""
    constraint_terms = getattr(acqf, "_constraints_acqf_list", None)
    if not constraint_terms or not hasattr(constraint_terms[0], "eval_acqf_no_grad"):
        return None
    return sum(term.eval_acqf_no_grad(candidates) for term in constraint_terms)


class UntriedGPSampler(GPSampler):
    """GPSampler whose next configuration, in a space it can list, is the best one not tried yet."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._untried: list[dict[str, Any]] | None = None

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        trials = study.get_trials(deepcopy=False)
        untried = untried_configurations(study, trials, search_space) if search_space else None
        completed = sum(t.state is OptunaTrialState.COMPLETE for t in trials)
        if untried and completed < self._n_startup_trials:
            # Before the model starts, a random untried configuration: Optuna's own start-up draws each flag
            # independently and may draw a configuration twice.
            return untried[self._rng.rng.randint(len(untried))]
        if untried and len(study.directions) == 1:
            maximize = study.direction is StudyDirection.MAXIMIZE
            if (probe := categorical_probe(trials, search_space, untried, maximize)) is not None:
                return probe
        self._untried = untried
        try:
            return super().sample_relative(study, trial, search_space)
        finally:
            self._untried = None

    def _optimize_acqf(self, acqf: Any, best_params: np.ndarray | None) -> np.ndarray:
        # GPSampler's documented hook for another optimizer of the acquisition function (optuna 5.0).
        if not self._untried:
            return super()._optimize_acqf(acqf, best_params)
        # The normalised form of each untried point, computed by the acquisition function's own search space.
        placeholders: list[Any] = [None] * len(self._untried)
        candidates = acqf.search_space.get_normalized_params(placeholders, self._untried)
        values = acqf.eval_acqf_no_grad(candidates)
        # With hard SLOs, the acquisition is expected improvement times the chance of meeting them. Once the good
        # feasible configurations are tried, a large improvement beyond the SLO boundary can outweigh a small
        # chance, and the search would spend its trials where the SLOs break. So while there are configurations
        # the constraint models give at least one chance in four, choose among those. (One in two would never
        # try a configuration right at the boundary, where the best feasible one often is.)
        log_feasible = _log_probability_feasible(acqf, candidates)
        if log_feasible is not None and (likely := log_feasible >= np.log(LIKELY_FEASIBLE)).any():
            values = np.where(likely, values, -np.inf)
        return candidates[int(np.argmax(values))]


def gp_sampler(strategy: StrategySpec) -> BaseSampler:
    # Optuna's GPSampler runs on torch and scipy (CPU builds are enough): servetune's `gp` extra.
    try:
        import scipy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            f"strategy.name gp needs torch and scipy ({exc.name} is missing): pip install 'servetune[gp]'"
        ) from None
    return UntriedGPSampler(
        seed=strategy.seed,
        n_startup_trials=STARTUP_TRIALS,
        deterministic_objective=False,
    )
