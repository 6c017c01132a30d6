"""What counts as better: the objectives, the pick rule among several, and the SLOs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PositiveFloat, model_validator

from tuning.spec._base import StrictModel


class ObjectiveMetric(StrEnum):
    """What an objective measures; ``OBJECTIVE_UNITS`` gives each one's unit and ``MINIMIZED`` its direction."""

    output_throughput = "output_throughput"
    output_throughput_per_gpu = "output_throughput_per_gpu"
    output_throughput_per_user = "output_throughput_per_user"
    total_throughput = "total_throughput"
    total_throughput_per_gpu = "total_throughput_per_gpu"
    requests_per_second = "requests_per_second"
    goodput = "goodput"
    goodput_per_gpu = "goodput_per_gpu"
    slo_attainment = "slo_attainment"
    capacity = "capacity"
    capacity_per_gpu = "capacity_per_gpu"
    cost_per_million_output_tokens = "cost_per_million_output_tokens"
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
MINIMIZED = LATENCY_METRICS | {ObjectiveMetric.cost_per_million_output_tokens}
OBJECTIVE_UNITS = {
    ObjectiveMetric.output_throughput: "tok/s",
    ObjectiveMetric.output_throughput_per_gpu: "tok/s/GPU",
    ObjectiveMetric.output_throughput_per_user: "tok/s/user",
    ObjectiveMetric.total_throughput: "tok/s",
    ObjectiveMetric.total_throughput_per_gpu: "tok/s/GPU",
    ObjectiveMetric.requests_per_second: "req/s",
    ObjectiveMetric.goodput: "req/s",
    ObjectiveMetric.goodput_per_gpu: "req/s/GPU",
    ObjectiveMetric.slo_attainment: "share",
    ObjectiveMetric.capacity: "concurrent requests",
    ObjectiveMetric.capacity_per_gpu: "concurrent requests/GPU",
    ObjectiveMetric.cost_per_million_output_tokens: "per M output tokens",
    ObjectiveMetric.ttft: "s",
    ObjectiveMetric.tpot: "s",
    ObjectiveMetric.e2e_latency: "s",
}
# Measures of generated tokens: the embeddings and rerank tasks generate none.
GENERATION_METRICS = frozenset(
    {
        ObjectiveMetric.output_throughput,
        ObjectiveMetric.output_throughput_per_gpu,
        ObjectiveMetric.output_throughput_per_user,
        ObjectiveMetric.cost_per_million_output_tokens,
        ObjectiveMetric.tpot,
    }
)
CAPACITY_METRICS = frozenset({ObjectiveMetric.capacity, ObjectiveMetric.capacity_per_gpu})
# Computed per request against the SLO thresholds, so they mean nothing without a latency SLO.
PER_REQUEST_METRICS = frozenset(
    {ObjectiveMetric.goodput, ObjectiveMetric.goodput_per_gpu, ObjectiveMetric.slo_attainment}
)
# The axes of vLLM's `bench sweep` Pareto plot: how fast each user is served against what each GPU yields.
OBJECTIVE_PRESETS: dict[str, list[str]] = {
    "user-vs-gpu": [ObjectiveMetric.output_throughput_per_user.value, ObjectiveMetric.output_throughput_per_gpu.value],
}


class ObjectiveSpec(StrictModel):
    """What makes one configuration better than another."""

    metric: ObjectiveMetric = Field(
        default=ObjectiveMetric.output_throughput,
        description="Latencies (seconds) and cost are minimized; everything else is maximized. Throughputs are "
        "tokens/s of the server (`_per_gpu`: divided by the trial's GPUs); `output_throughput_per_user` is "
        "the tokens/s one request receives while it streams (mean over requests); `requests_per_second` "
        "counts completed requests. `goodput` counts only the requests whose own latencies meet every latency "
        "SLO's threshold (per request, whatever the SLO's statistic), per second; `slo_attainment` is their "
        "share of all requests. `capacity` is the highest concurrency that meets every hard SLO "
        "(`benchmark.mode: capacity`). `cost_per_million_output_tokens` is the GPU time one million output "
        "tokens take at `hardware.gpu_hour_price`. In capacity mode, every metric is read at the capacity.",
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
        return self.metric not in MINIMIZED

    @property
    def label(self) -> str:
        return (
            f"{self.name.replace('_', ' ') if self.metric in LATENCY_METRICS else self.metric.value} "
            f"({OBJECTIVE_UNITS[self.metric]})"
        )

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
    """A service-level objective, checked on every benchmark round.

    It is a percentile SLO: a round meets it when the round's statistic (p90 TTFT, say) is within `max`. The same
    `max` is also a per-request threshold: `goodput` and `slo_attainment` count the requests whose own TTFT, TPOT
    and end-to-end latency are each within their SLO's `max`, whatever the statistic.
    """

    metric: SLOMetric = Field(description="Latencies in seconds; error_rate as a fraction of requests.")
    statistic: Statistic = Field(
        default=Statistic.p90,
        description="Which statistic of a latency metric the round is checked on. Per-request metrics (goodput, "
        "slo_attainment) use `max` on each request instead.",
    )
    max: float = Field(ge=0, allow_inf_nan=False, description="Highest acceptable value.")
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
