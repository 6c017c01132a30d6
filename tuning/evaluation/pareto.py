"""Several objectives: the Pareto front of the measured configurations, and the rule that picks one of them.

A point is on the front when no other feasible point is at least as good on every objective and better on
one. Infeasible points (a hard SLO broken) are never on it: the SLOs are constraints, not trade-offs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from pydantic import TypeAdapter

from tuning.evaluation.outcome import MeasuredTrial, TrialState, measured_runs
from tuning.spec import ObjectiveSpec, PickRule, TuningSpec


@dataclass(frozen=True)
class Goal:
    """What a run optimizes: one objective, or several and the rule that picks a point of their front."""

    objectives: list[ObjectiveSpec]
    pick: PickRule

    @classmethod
    def of_spec(cls, spec: TuningSpec) -> Goal:
        return cls(list(spec.objectives), spec.pick)

    @classmethod
    def of_stored_spec(cls, spec: dict[str, Any]) -> Goal:
        """From a run's stored spec, read section by section (an older one may not validate against today's
        schema): its ``objectives``, or, stored by an earlier release, its single ``objective``."""
        objectives = TypeAdapter(list[ObjectiveSpec]).validate_python(spec.get("objectives") or [])
        single = ObjectiveSpec.model_validate(spec.get("objective") or {})
        return cls(objectives or [single], PickRule.model_validate(spec.get("pick") or {}))

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def maximize(self) -> list[bool]:
        return [o.maximize for o in self.objectives]

    @property
    def best_index(self) -> int:
        return self.names.index(self.pick.best) if self.pick.best else 0

    @property
    def rule(self) -> str:
        return self.pick.describe(self.objectives)


def dominates(a: Sequence[float], b: Sequence[float], maximize: Sequence[bool]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every objective and better on one."""
    better = False
    for x, y, up in zip(a, b, maximize, strict=True):
        if (x < y) if up else (x > y):
            return False
        better = better or x != y
    return better


def front_indices(points: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[int]:
    """Indices of the points no other point dominates; equal points are all kept."""
    return [
        i
        for i, point in enumerate(points)
        if not any(dominates(other, point, maximize) for j, other in enumerate(points) if j != i)
    ]


def shortfalls(values: Sequence[float], goal: Goal) -> dict[str, float]:
    """Per limit of the pick rule that these values miss, by how much, relative to the limit."""
    missed = {}
    for name, limit in goal.pick.limits.items():
        index = goal.names.index(name)
        value, up = values[index], goal.maximize[index]
        gap = (limit - value) if up else (value - limit)
        if gap > 0:
            missed[name] = gap / abs(limit) if limit else gap
    return missed


def pick_order(points: Sequence[Sequence[float]], goal: Goal) -> list[int]:
    """The front's points in the order the rule prefers them: those within every limit by the picked objective,
    best first; then the others, closest to the limits first. The first is picked if it is within them."""
    index, up = goal.best_index, goal.maximize[goal.best_index]
    within = [i for i, p in enumerate(points) if not shortfalls(p, goal)]
    outside = [i for i, p in enumerate(points) if shortfalls(p, goal)]
    within.sort(key=lambda i: -points[i][index] if up else points[i][index])
    outside.sort(key=lambda i: max(shortfalls(points[i], goal).values()))
    return within + outside


@dataclass(frozen=True)
class FrontPoint:
    """A feasible configuration of the search with each objective's mean over all its measurements."""

    trial: MeasuredTrial
    values: tuple[float, ...]
    measurements: int


@dataclass(frozen=True)
class Front:
    """The front's points in the pick rule's order, and the one picked (None when none is within the limits)."""

    points: list[FrontPoint]
    picked: FrontPoint | None
    goal: Goal

    @property
    def numbers(self) -> list[int]:
        return [p.trial.number for p in self.points]

    def values_text(self, point: FrontPoint) -> str:
        return ", ".join(f"{name} {value:.4g}" for name, value in zip(self.goal.names, point.values, strict=True))

    def describe_miss(self, point: FrontPoint) -> str:
        """Which limits of the rule a point misses, with its value and the limit."""
        missed = shortfalls(point.values, self.goal)
        parts = []
        for name in missed:
            index = self.goal.names.index(name)
            sign = ">=" if self.goal.maximize[index] else "<="
            parts.append(f"{name} {point.values[index]:.4g}, limit {sign} {self.goal.pick.limits[name]:g}")
        return "; ".join(parts)


def _measured(trial: MeasuredTrial) -> bool:
    return trial.state == TrialState.succeeded and trial.score is not None and bool(trial.objective_scores)


def front_points(trials: Sequence[MeasuredTrial], goal: Goal) -> list[FrontPoint]:
    """Every feasible configuration of the search (confirmations folded into the trial they measure again)."""
    points = []
    for trial in trials:
        if trial.confirms is not None or not _measured(trial):
            continue
        runs = measured_runs(trial, trials, _measured)
        if not all(t.feasible for t in runs):
            continue
        scores = [t.objective_scores for t in runs if t.objective_scores and len(t.objective_scores) == len(goal.names)]
        if scores:
            values = tuple(fmean(column) for column in zip(*scores, strict=True))
            points.append(FrontPoint(trial, values, len(scores)))
    return points


def pareto_front(trials: Sequence[MeasuredTrial], goal: Goal) -> Front:
    points = front_points(trials, goal)
    on_front = [points[i] for i in front_indices([p.values for p in points], goal.maximize)]
    ordered = [on_front[i] for i in pick_order([p.values for p in on_front], goal)]
    picked = ordered[0] if ordered and not shortfalls(ordered[0].values, goal) else None
    return Front(ordered, picked, goal)
