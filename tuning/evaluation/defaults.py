"""The engine's defaults as a baseline: how much better than them the run's best is, with the noise in view.

With ``measure_defaults`` a run measures the engine's defaults first (trial 0, ``engine.args`` alone) and as many
times as its confirmed winner. A trial measures the defaults when it sets none of the searched parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from tuning.evaluation.outcome import MeasuredTrial, TrialState, measured_runs, scored
from tuning.evaluation.pareto import Goal


def measures_defaults(trial: MeasuredTrial) -> bool:
    return not trial.params


# The confidence of the interval on a difference of means. Two or three runs a side make it wide; that is the
# point of stating it.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Difference:
    """How far one configuration's mean is from another's, with the noise in view: the interval on the difference
    of means at ``CONFIDENCE``, and the test's p-value."""

    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        """Whether the interval leaves out no difference at all."""
        return self.low > 0 or self.high < 0

    def text(self) -> str:
        return (
            f"the {CONFIDENCE:.0%} interval of the difference of means is {self.low:+.4g} to {self.high:+.4g} "
            f"(Welch's t-test, p = {self.p_value:.2g})"
        )

    def verdict(self, other: str) -> str:
        """Told apart from ``other`` (a name such as "the defaults") or not, and why."""
        if self.significant:
            return f"told apart from {other}: {self.text()}"
        return f"it cannot be told apart from {other}: {self.text()}, which includes no difference"


@dataclass(frozen=True)
class Measurements:
    """One objective's values over every measurement of one configuration."""

    values: list[float]

    @property
    def mean(self) -> float:
        return fmean(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def overlaps(self, other: Measurements) -> bool:
        return self.low <= other.high and other.low <= self.high

    def difference(self, other: Measurements) -> Difference | None:
        """This mean minus ``other``'s, by Welch's t-test (the two need not vary alike); None without two runs of
        each, or when neither varies (then the ranges say all there is)."""
        if len(self.values) < 2 or len(other.values) < 2 or (self.low == self.high and other.low == other.high):
            return None
        # scipy is imported here: the CLI reads this module for every command, and few need the test.
        from scipy import stats

        result = stats.ttest_ind(self.values, other.values, equal_var=False)
        interval = result.confidence_interval(CONFIDENCE)
        return Difference(float(interval.low), float(interval.high), float(result.pvalue))

    def compared_with(self, other: Measurements, name: str) -> str:
        """Whether these measurements can be told apart from ``other``'s (called ``name``), and on what grounds:
        Welch's interval where both sides have two runs or more, else the ranges."""
        difference = self.difference(other)
        if difference is not None:
            return difference.verdict(name)
        if self.overlaps(other):
            return f"it cannot be told apart from {name}: their measurements overlap"
        return f"apart on every measurement from {name}"

    def text(self) -> str:
        runs = f"{len(self.values)} run{'s' if len(self.values) > 1 else ''}"
        if len(self.values) == 1:
            return f"{self.mean:.4g}, {runs}"
        return f"mean {self.mean:.4g}, range {self.low:.4g}-{self.high:.4g}, {runs}"


def _objective(trials: Sequence[MeasuredTrial], trial: MeasuredTrial, index: int, goal: Goal) -> Measurements:
    runs = measured_runs(trial, trials, scored)
    if goal.multi:
        return Measurements([float(t.objective_scores[index]) for t in runs if t.objective_scores])
    return Measurements([float(t.score) for t in runs if t.score is not None])


@dataclass(frozen=True)
class Improvement:
    """The best configuration against the defaults on one objective."""

    objective: str
    maximize: bool
    best: Measurements
    defaults: Measurements

    @property
    def relative(self) -> float | None:
        """How much better the best's mean is, as a fraction of the defaults' (negative: worse); None from 0."""
        if self.defaults.mean == 0:
            return None
        change = (self.best.mean - self.defaults.mean) / abs(self.defaults.mean)
        return change if self.maximize else -change

    @property
    def distinguishable(self) -> bool:
        """Whether the difference is beyond the noise: by Welch's t-test where both sides have two runs or more,
        else whether every measurement of one is on the same side of every measurement of the other."""
        difference = self.best.difference(self.defaults)
        return difference.significant if difference is not None else not self.best.overlaps(self.defaults)

    def text(self) -> str:
        relative = self.relative
        amount = "no change" if relative is None else f"{abs(relative):.1%} {'better' if relative >= 0 else 'worse'}"
        verdict = self.best.compared_with(self.defaults, "the defaults")
        return f"{self.objective} {amount} ({self.best.text()} against {self.defaults.text()}): {verdict}"


def defaults_trial(trials: Sequence[MeasuredTrial]) -> MeasuredTrial | None:
    """The run's first measurement of the engine's defaults, if it made one."""
    return next((t for t in trials if measures_defaults(t) and t.confirms is None), None)


def improvements(trials: Sequence[MeasuredTrial], best: MeasuredTrial, goal: Goal) -> list[Improvement] | None:
    """The best against the defaults on each objective; None without a succeeded, feasible defaults trial."""
    defaults = defaults_trial(trials)
    if defaults is None or not scored(defaults) or not defaults.feasible:
        return None
    return [
        Improvement(
            objective=objective.label,
            maximize=objective.maximize,
            best=_objective(trials, best, index, goal),
            defaults=_objective(trials, defaults, index, goal),
        )
        for index, objective in enumerate(goal.objectives)
    ]


def versus_defaults(trials: Sequence[MeasuredTrial], best: MeasuredTrial | None, goal: Goal) -> str | None:
    """One sentence on the best against the engine's defaults; None when the run did not measure them."""
    defaults = defaults_trial(trials)
    if defaults is None:
        return None
    if defaults.state != TrialState.succeeded:
        return f"the engine's defaults (trial {defaults.number}) were not measured: they ended {defaults.state}"
    if not defaults.feasible:
        return f"the engine's defaults (trial {defaults.number}) broke a hard SLO"
    if best is None:
        return None
    if measures_defaults(best):
        return f"the engine's defaults (trial {defaults.number}) scored best: no searched configuration beat them"
    found = improvements(trials, best, goal) or []
    return f"against the engine's defaults (trial {defaults.number}), trial {best.number} is " + "; ".join(
        i.text() for i in found
    )
