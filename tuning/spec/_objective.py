"""What counts as better: the objectives, the pick rule among several, and the SLOs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PositiveFloat, model_validator

from tuning.spec._base import StrictModel


class ObjectiveMetric(StrEnum):
    output_throughput = "output_throughput"
    output_throughput_per_gpu = "output_throughput_per_gpu"
    ttft = "ttft"
    tpot = "tpot"
    e2e_latency = "e2e_latency"


class Statistic(StrEnum):
    mean = "mean"
    p50 = "p50"
    p90 = "p90"
    p99 = "p99"


class Aggregate(StrEnum):
    mean = "mean"
    worst = "worst"
    best = "best"


LATENCY_METRICS = frozenset({ObjectiveMetric.ttft, ObjectiveMetric.tpot, ObjectiveMetric.e2e_latency})


class ObjectiveSpec(StrictModel):
    """What makes one configuration better than another."""

    metric: ObjectiveMetric = Field(
        default=ObjectiveMetric.output_throughput,
        description="Throughputs are maximized (tokens/s), latencies minimized (seconds).",
    )
    statistic: Statistic = Field(
        default=Statistic.p90, description="Which statistic of a latency metric; ignored for throughput."
    )
    aggregate: Aggregate = Field(
        default=Aggregate.mean,
        description="How the values of the benchmark rounds (scenario x concurrency) combine into one.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"metric": data} if isinstance(data, str) else data

    @property
    def maximize(self) -> bool:
        return self.metric not in LATENCY_METRICS

    @property
    def label(self) -> str:
        if self.metric in LATENCY_METRICS:
            return f"{self.metric.value} {self.statistic.value} (s)"
        return f"{self.metric.value} (tok/s)"

    @property
    def name(self) -> str:
        """How a pick rule names this objective: the metric, and for a latency its statistic (``ttft_p90``)."""
        if self.metric in LATENCY_METRICS:
            return f"{self.metric.value}_{self.statistic.value}"
        return self.metric.value


class PickRule(StrictModel):
    """How one configuration is picked from the Pareto front of several `objectives` (none beats it on all)."""

    best: str | None = Field(
        default=None,
        description="Name of the objective whose best value wins among the front's points within `limits`: "
        "the metric, and for a latency its statistic, as in `ttft_p90`. Defaults to the first objective.",
        examples=["output_throughput_per_gpu"],
    )
    limits: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="Worst acceptable value of an objective, by name: a ceiling for a minimized objective "
        "(latency, seconds), a floor for a maximized one (tokens/s). A point of the front outside any limit "
        "is not picked; when no point is within them, none is, and the closest is shown.",
        examples=[{"ttft_p90": 0.5}],
    )

    def describe(self, objectives: list[ObjectiveSpec]) -> str:
        """The rule in words, such as ``best output_throughput_per_gpu with ttft_p90 <= 0.5``."""
        best = self.best or objectives[0].name
        maximize = {o.name: o.maximize for o in objectives}
        bounds = [f"{name} {'>=' if maximize.get(name) else '<='} {limit:g}" for name, limit in self.limits.items()]
        return f"best {best}" + (f" with {' and '.join(bounds)}" if bounds else "")


class SLOMetric(StrEnum):
    ttft = "ttft"
    tpot = "tpot"
    e2e_latency = "e2e_latency"
    error_rate = "error_rate"


class SLOSpec(StrictModel):
    """A service-level objective, checked on every benchmark round."""

    metric: SLOMetric = Field(description="Latencies in seconds; error_rate as a fraction of requests.")
    statistic: Statistic = Field(default=Statistic.p90, description="Which statistic of a latency metric.")
    max: float = Field(ge=0, description="Highest acceptable value.")
    hard: bool = Field(
        default=True,
        description="A hard SLO broken in any round makes the configuration infeasible; a soft one "
        "lowers its score in proportion to the excess.",
    )
    penalty: PositiveFloat = Field(
        default=1.0, description="Weight of a soft SLO's penalty per unit of relative excess."
    )

    @property
    def label(self) -> str:
        if self.metric is SLOMetric.error_rate:
            return f"error_rate <= {self.max:g}"
        return f"{self.metric.value} {self.statistic.value} <= {self.max:g}s"
