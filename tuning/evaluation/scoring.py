"""Score a benchmark result against the objective and the SLOs.

Rules (each a lesson from the system this replaces):
- SLOs are checked on every round (scenario x concurrency), never on an average.
- A broken hard SLO makes the configuration infeasible; it keeps its measured value but is never best.
- A soft SLO's penalty always makes the score worse in the objective's own direction, and is zero at the
  threshold, so the score is continuous there.
- Only finite numbers leave this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import fmean

from pydantic import BaseModel, Field

from tuning.evaluation.metrics import RoundMetrics
from tuning.spec import Aggregate, ObjectiveMetric, ObjectiveSpec, SLOMetric, SLOSpec


class ScoringError(ValueError):
    pass


class SLOViolation(BaseModel):
    slo: str
    scenario: str
    concurrency: int
    observed: float
    limit: float
    hard: bool

    def describe(self) -> str:
        kind = "hard" if self.hard else "soft"
        return f"{self.slo} ({kind}) broken at {self.scenario} x{self.concurrency}: {self.observed:.4g}"


class Score(BaseModel):
    """``value`` is the objective after soft penalties, in the objective's units and direction."""

    value: float
    objective_value: float
    penalty: float
    feasible: bool
    maximize: bool
    violations: list[SLOViolation]
    constraints: list[float] = Field(
        default_factory=list,
        description="Per hard SLO, the worst round's signed relative excess: <= 0 met, > 0 broken by that much. "
        "What a constrained sampler learns the feasible region from.",
    )
    objective_scores: list[float] = Field(
        default_factory=list,
        description="Per objective (in the spec's order), the value after soft penalties, as the study is told "
        "it; ``value`` is the item of the objective that ranks.",
    )


def objective_of_round(round_: RoundMetrics, objective: ObjectiveSpec, gpus: int) -> float:
    match objective.metric:
        case ObjectiveMetric.output_throughput:
            return round_.output_throughput
        case ObjectiveMetric.output_throughput_per_gpu:
            return round_.output_throughput / max(1, gpus)
        case _:
            return round_.metric(objective.metric.value, objective.statistic.value)


def slo_value(round_: RoundMetrics, slo: SLOSpec) -> float:
    if slo.metric is SLOMetric.error_rate:
        return round_.error_rate
    return round_.metric(slo.metric.value, slo.statistic.value)


def _excess(observed: float, limit: float) -> float:
    """Relative excess over the limit: 0 at or under it, growing linearly past it."""
    if observed <= limit:
        return 0.0
    return (observed - limit) / limit if limit > 0 else observed


def _signed_excess(observed: float, limit: float) -> float:
    return (observed - limit) / limit if limit > 0 else observed - limit


def _aggregate(values: list[float], aggregate: Aggregate, maximize: bool) -> float:
    if aggregate is Aggregate.mean:
        return fmean(values)
    best = max if maximize else min
    worst = min if maximize else max
    return (best if aggregate is Aggregate.best else worst)(values)


def _objective_value(rounds: list[RoundMetrics], objective: ObjectiveSpec, gpus: int, penalty: float) -> float:
    """The objective over the rounds, with the soft-SLO penalty making it worse in its own direction."""
    raw = _aggregate([objective_of_round(r, objective, gpus) for r in rounds], objective.aggregate, objective.maximize)
    if not math.isfinite(raw):
        raise ScoringError(f"the objective {objective.label} is not a finite number ({raw})")
    return raw / (1.0 + penalty) if objective.maximize else raw * (1.0 + penalty)


def score(
    rounds: list[RoundMetrics],
    objectives: Sequence[ObjectiveSpec],
    slos: list[SLOSpec],
    gpus: int = 1,
    ranks: ObjectiveSpec | None = None,
) -> Score:
    """Each of ``objectives`` gives an item of ``objective_scores``; ``ranks``, one of them (the first when left
    out; a spec's ``objective``), gives ``value``: the one number single-objective views rank by."""
    if not objectives:
        raise ScoringError("there is no objective to score against")
    ranked = list(objectives).index(ranks) if ranks is not None else 0
    objective = objectives[ranked]
    if not rounds:
        raise ScoringError("the benchmark produced no rounds to score")
    violations: list[SLOViolation] = []
    penalty = 0.0
    constraints: list[float] = []
    for slo in slos:
        worst_excess = 0.0
        for round_ in rounds:
            observed = slo_value(round_, slo)
            if not math.isfinite(observed):
                raise ScoringError(
                    f"{slo.label} cannot be checked: {round_.scenario} x{round_.concurrency} has {observed}"
                )
            if observed > slo.max:
                violations.append(
                    SLOViolation(
                        slo=slo.label,
                        scenario=round_.scenario,
                        concurrency=round_.concurrency,
                        observed=observed,
                        limit=slo.max,
                        hard=slo.hard,
                    )
                )
                worst_excess = max(worst_excess, _excess(observed, slo.max))
        if slo.hard:
            constraints.append(max(_signed_excess(slo_value(r, slo), slo.max) for r in rounds))
        else:
            penalty += slo.penalty * worst_excess
    raw = _objective_value(rounds, objective, gpus, 0.0)
    objective_scores = [_objective_value(rounds, o, gpus, penalty) for o in objectives]
    return Score(
        value=objective_scores[ranked],
        objective_value=raw,
        penalty=penalty,
        feasible=not any(v.hard for v in violations),
        maximize=objective.maximize,
        violations=violations,
        constraints=constraints,
        objective_scores=objective_scores,
    )
