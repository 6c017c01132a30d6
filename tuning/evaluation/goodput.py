"""Per-request metrics of a round: goodput, SLO attainment and output tokens/s per user.

genai-bench's round file keeps every request's own metrics (``individual_request_metrics``); its aggregates are
percentiles. A percentile SLO ("p90 TTFT within 1 s") is checked on the aggregates; goodput asks of each request
whether its own TTFT, TPOT and end-to-end latency are within the SLOs' thresholds, as DistServe and GuideLLM
define it, so it needs the requests themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from tuning.spec import SLOMetric, TuningSpec

_LATENCIES = ("ttft", "tpot", "e2e_latency")


class RequestLimits(BaseModel):
    """What one request must meet to be good, in seconds, and which requests genai-bench leaves out of a round."""

    model_config = ConfigDict(frozen=True)

    ttft: float | None = None
    tpot: float | None = None
    e2e_latency: float | None = None
    warmup_ratio: float = 0.0
    cooldown_ratio: float = 0.0

    @classmethod
    def of(cls, spec: TuningSpec) -> RequestLimits:
        """Each latency SLO's ``max`` as a per-request threshold (the tightest, when one metric has several)."""
        limits: dict[str, float] = {}
        for slo in spec.slos:
            if slo.metric is not SLOMetric.error_rate:
                name = slo.metric.value
                limits[name] = min(limits.get(name, slo.max), slo.max)
        bench = spec.benchmark
        return cls(**limits, warmup_ratio=bench.warmup_ratio or 0.0, cooldown_ratio=bench.cooldown_ratio or 0.0)


class RequestSummary(NamedTuple):
    goodput: float
    slo_attainment: float
    output_throughput_per_user: float


def counted_requests(records: Sequence[Mapping[str, Any]], limits: RequestLimits) -> Sequence[Mapping[str, Any]]:
    """The requests a round's metrics count: genai-bench leaves out the first ``int(n x warmup_ratio)`` and the
    last ``int(n x cooldown_ratio)``, and so does servetune, so goodput and the percentiles speak of the same ones."""
    warm, cool = int(len(records) * limits.warmup_ratio), int(len(records) * limits.cooldown_ratio)
    return records[warm : len(records) - cool]


def is_good(record: Mapping[str, Any], limits: RequestLimits, scale: float) -> bool:
    """No error, and each of its latencies within its threshold. A latency a request has no value for (TPOT of a
    one-token answer) is not held against it."""
    if record.get("error_code"):
        return False
    for name in _LATENCIES:
        limit, value = getattr(limits, name), record.get(name)
        if limit is not None and value is not None and float(value) * scale > limit:
            return False
    return True


# Below this share of its end-to-end latency, a request's output did not stream: it arrived in one chunk.
_ONE_CHUNK_SHARE = 0.05


def _streamed(record: Mapping[str, Any]) -> bool:
    """Whether the request's tokens streamed, so that its own rate (tokens over output time) means something.

    A busy engine may send a whole answer in one chunk (seen with vLLM's CPU build on 2 cores): its output time is
    a millisecond and its "speed" tens of thousands of tokens/s, which a mean over requests would be made of."""
    output, e2e = record.get("output_latency"), record.get("e2e_latency")
    if output is None or e2e is None or float(e2e) <= 0:
        return True
    return float(output) >= _ONE_CHUNK_SHARE * float(e2e)


def summarize_requests(
    records: Sequence[Mapping[str, Any]], limits: RequestLimits, duration: float, scale: float = 1.0
) -> RequestSummary:
    """``scale`` turns the file's time unit into seconds; ``duration`` is the round's run time in seconds."""
    counted = counted_requests(records, limits)
    good = sum(is_good(r, limits, scale) for r in counted)
    served = [r for r in counted if not r.get("error_code") and _streamed(r)]
    speeds = [float(speed) for r in served if (speed := r.get("output_inference_speed")) is not None]
    return RequestSummary(
        goodput=good / duration if duration > 0 else 0.0,
        slo_attainment=good / len(counted) if counted else 0.0,
        output_throughput_per_user=fmean(speeds) if speeds else 0.0,
    )
