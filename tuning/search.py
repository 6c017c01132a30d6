"""Which configuration to try next: an Optuna study, stored in the same database as servetune's tables.

The study, not a process's memory, says what has been asked and told. Each strategy is an Optuna sampler
made by a small factory in ``SAMPLERS``; adding one is adding a factory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaTrialState

from tuning.space import configurations, dimension_values, grid_size
from tuning.spec import Configuration, Dimension, StrategyName, StrategySpec, TuningSpec

CONSTRAINTS_ATTR = "servetune_constraints"
# Study attribute: trial numbers whose process died mid-trial. They are FAIL, and do not spend the budget.
ABANDONED_ATTR = "servetune_abandoned"


def hard_slo_constraints(trial: FrozenTrial) -> Sequence[float]:
    """Optuna's constraint values for a trial: <= 0 where every hard SLO held."""
    return trial.user_attrs.get(CONSTRAINTS_ATTR, [])


def _tpe(strategy: StrategySpec) -> BaseSampler:
    return TPESampler(multivariate=True, seed=strategy.seed, constraints_func=hard_slo_constraints)


SAMPLERS: dict[StrategyName, Callable[[StrategySpec], BaseSampler]] = {
    # The grid's points are enqueued in order, so its sampler only ever fills enqueued values.
    StrategyName.grid: lambda strategy: RandomSampler(seed=strategy.seed),
    StrategyName.random: lambda strategy: RandomSampler(seed=strategy.seed),
    StrategyName.tpe: _tpe,
}


def distribution(name: str, dimension: Dimension, walk_grid: bool) -> BaseDistribution:
    """The Optuna distribution of one dimension; a grid walks exact values, so it uses categoricals."""
    if dimension.values is not None or walk_grid:
        return CategoricalDistribution(dimension_values(name, dimension))
    assert dimension.low is not None and dimension.high is not None
    if dimension.is_int_range:
        step = 1 if dimension.log else int(dimension.step or 1)
        return IntDistribution(int(dimension.low), int(dimension.high), step=step, log=dimension.log)
    return FloatDistribution(float(dimension.low), float(dimension.high), step=dimension.step, log=dimension.log)


class Search:
    """Asks the study for configurations and tells it how each one did."""

    def __init__(self, spec: TuningSpec, study_name: str, storage_url: str) -> None:
        strategy = spec.strategy
        walk_grid = strategy.name is StrategyName.grid
        self.distributions = {n: distribution(n, d, walk_grid) for n, d in spec.search_space.items()}
        self.budget = strategy.budget(grid_size(spec) if walk_grid else 0)
        self.study = optuna.create_study(
            study_name=study_name,
            storage=storage_url,
            sampler=SAMPLERS[strategy.name](strategy),
            direction="maximize" if spec.objective.maximize else "minimize",
            load_if_exists=True,
        )
        self.walk_grid = walk_grid
        if walk_grid and not self.study.trials:
            for params in configurations(spec):
                self.study.enqueue_trial(params)
        self._live: dict[int, optuna.Trial] = {}

    def abandon(self, numbers: list[int]) -> None:
        """Trials whose process died: FAIL to the study and not counted; a grid asks their points again."""
        if not numbers:
            return
        for number in numbers:
            self.study.tell(number, state=OptunaTrialState.FAIL, skip_if_finished=True)
            if self.walk_grid:
                self.study.enqueue_trial(self.study.trials[number].params)
        known = set(self.study.user_attrs.get(ABANDONED_ATTR, []))
        self.study.set_user_attr(ABANDONED_ATTR, sorted(known | set(numbers)))

    @property
    def spent(self) -> int:
        """Trials asked so far, less abandoned ones: what counts against the budget."""
        asked = [t for t in self.study.get_trials(deepcopy=False) if t.state is not OptunaTrialState.WAITING]
        return len(asked) - len(self.study.user_attrs.get(ABANDONED_ATTR, []))

    def ask(self) -> tuple[int, Configuration] | None:
        """The next trial number and configuration, or None once the budget is spent."""
        # Enqueued grid points wait in the study as WAITING trials; only asked ones spend the budget.
        if self.spent >= self.budget:
            return None
        trial = self.study.ask(self.distributions)
        self._live[trial.number] = trial
        return trial.number, dict(trial.params)

    def measured(self, params: Configuration) -> FrozenTrial | None:
        """An earlier completed trial with exactly these parameters, whose result can be reused."""
        for trial in self.study.get_trials(deepcopy=False, states=(OptunaTrialState.COMPLETE,)):
            if trial.params == params and all(type(trial.params[k]) is type(v) for k, v in params.items()):
                return trial
        return None

    def tell_value(self, number: int, value: float, constraints: Sequence[float]) -> None:
        self._live[number].set_user_attr(CONSTRAINTS_ATTR, list(constraints))
        self.study.tell(self._live.pop(number), value)

    def tell_failed(self, number: int) -> None:
        """A trial that did not produce a score is FAIL to Optuna, never a value of plus or minus infinity."""
        self.study.tell(self._live.pop(number), state=OptunaTrialState.FAIL)
