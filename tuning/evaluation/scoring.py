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
from collections.abc import Callable, Mapping, Sequence
from statistics import fmean

from pydantic import BaseModel, Field

from tuning.evaluation.load import load_plan
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.slo import slo_value
from tuning.spec import LATENCY_METRICS, Aggregate, ObjectiveMetric, ObjectiveSpec, SLOSpec, TuningSpec


class ScoringError(ValueError):
    pass


class SLOViolation(BaseModel):
    slo: str
    scenario: str
    concurrency: int
    observed: float
    limit: float
    hard: bool
    beyond_capacity: bool = Field(
        default=False, description="Broken at a level past the configuration's capacity: it does not make it infeasible"
    )

    def describe(self) -> str:
        kind = "beyond capacity" if self.beyond_capacity else "hard" if self.hard else "soft"
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
    capacity: dict[str, int] = Field(
        default_factory=dict,
        description="Capacity mode: per traffic scenario, the highest concurrency that met every hard SLO.",
    )


class Costing(BaseModel):
    """What per-GPU and cost objectives divide by: the trial's GPUs (a machine without one counts as one)."""

    gpus: int = 1
    gpu_hour_price: float | None = None

    @property
    def units(self) -> int:
        return max(1, self.gpus)


def _per_request(round_: RoundMetrics, name: str) -> float:
    value = getattr(round_, name)
    if value is None:
        raise ScoringError(f"{round_.scenario} x{round_.concurrency} has no {name}: it was stored before servetune 0.2")
    return float(value)


def _cost_per_million(round_: RoundMetrics, costing: Costing) -> float:
    if costing.gpu_hour_price is None:
        raise ScoringError("cost_per_million_output_tokens needs hardware.gpu_hour_price")
    if round_.output_throughput <= 0:
        raise ScoringError(f"{round_.scenario} x{round_.concurrency} produced no output tokens: its cost is unbounded")
    hours_per_million = 1e6 / round_.output_throughput / 3600.0
    return costing.units * costing.gpu_hour_price * hours_per_million


_ROUND_OBJECTIVES: dict[ObjectiveMetric, Callable[[RoundMetrics, Costing], float]] = {
    ObjectiveMetric.output_throughput: lambda r, c: r.output_throughput,
    ObjectiveMetric.output_throughput_per_gpu: lambda r, c: r.output_throughput / c.units,
    ObjectiveMetric.output_throughput_per_user: lambda r, c: _per_request(r, "output_throughput_per_user"),
    ObjectiveMetric.total_throughput: lambda r, c: r.total_throughput,
    ObjectiveMetric.total_throughput_per_gpu: lambda r, c: r.total_throughput / c.units,
    ObjectiveMetric.requests_per_second: lambda r, c: r.requests_per_second,
    ObjectiveMetric.goodput: lambda r, c: _per_request(r, "goodput"),
    ObjectiveMetric.goodput_per_gpu: lambda r, c: _per_request(r, "goodput") / c.units,
    ObjectiveMetric.slo_attainment: lambda r, c: _per_request(r, "slo_attainment"),
    # Scored on the capacity round of each scenario, whose level is the capacity.
    ObjectiveMetric.capacity: lambda r, c: float(r.concurrency),
    ObjectiveMetric.capacity_per_gpu: lambda r, c: r.concurrency / c.units,
    ObjectiveMetric.cost_per_million_output_tokens: _cost_per_million,
}


def objective_of_round(round_: RoundMetrics, objective: ObjectiveSpec, costing: Costing | int = 1) -> float:
    costing = costing if isinstance(costing, Costing) else Costing(gpus=costing)
    if objective.metric in LATENCY_METRICS:
        return round_.metric(objective.metric.value, objective.statistic.value)
    return _ROUND_OBJECTIVES[objective.metric](round_, costing)


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


def _objective_value(rounds: list[RoundMetrics], objective: ObjectiveSpec, costing: Costing, penalty: float) -> float:
    """The objective over the rounds, with the soft-SLO penalty making it worse in its own direction."""
    values = [objective_of_round(r, objective, costing) for r in rounds]
    raw = _aggregate(values, objective.aggregate, objective.maximize)
    if not math.isfinite(raw):
        raise ScoringError(f"the objective {objective.label} is not a finite number ({raw})")
    return raw / (1.0 + penalty) if objective.maximize else raw * (1.0 + penalty)


def score_trial(
    spec: TuningSpec, rounds: Sequence[RoundMetrics], gpus: int, objectives: Sequence[ObjectiveSpec] | None = None
) -> Score:
    """A trial's rounds scored as its spec says: read where its load mode says (every round, or each scenario's
    capacity), against ``objectives`` (the spec's by default), ranked by the spec's objective."""
    counted, beyond, capacity = load_plan(spec.benchmark, spec.slos).counted(rounds)
    objectives = list(objectives or spec.objectives)
    ranks = spec.objective if spec.objective in objectives else objectives[0]
    costing = Costing(gpus=gpus, gpu_hour_price=spec.hardware.gpu_hour_price)
    return score(counted, objectives, spec.slos, costing, ranks=ranks, beyond=beyond, capacity=capacity)


def score(
    rounds: list[RoundMetrics],
    objectives: Sequence[ObjectiveSpec],
    slos: list[SLOSpec],
    gpus: int | Costing = 1,
    ranks: ObjectiveSpec | None = None,
    beyond: Sequence[RoundMetrics] = (),
    capacity: Mapping[str, int] | None = None,
) -> Score:
    """Each of ``objectives`` gives an item of ``objective_scores``; ``ranks``, one of them (the first when left
    out; a spec's ``objective``), gives ``value``: the one number single-objective views rank by.

    ``beyond``: rounds past the configuration's capacity; the hard SLOs they broke are listed as beyond capacity
    and do not make it infeasible."""
    costing = gpus if isinstance(gpus, Costing) else Costing(gpus=gpus)
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
    violations += _beyond_capacity(beyond, slos)
    raw = _objective_value(rounds, objective, costing, 0.0)
    objective_scores = [_objective_value(rounds, o, costing, penalty) for o in objectives]
    return Score(
        value=objective_scores[ranked],
        objective_value=raw,
        penalty=penalty,
        feasible=not any(v.hard and not v.beyond_capacity for v in violations),
        maximize=objective.maximize,
        violations=violations,
        constraints=constraints,
        objective_scores=objective_scores,
        capacity=dict(capacity or {}),
    )


def _beyond_capacity(rounds: Sequence[RoundMetrics], slos: list[SLOSpec]) -> list[SLOViolation]:
    return [
        SLOViolation(
            slo=slo.label,
            scenario=r.scenario,
            concurrency=r.concurrency,
            observed=slo_value(r, slo),
            limit=slo.max,
            hard=True,
            beyond_capacity=True,
        )
        for r in rounds
        for slo in slos
        if slo.hard and slo_value(r, slo) > slo.max
    ]
