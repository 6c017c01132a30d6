"""What tests build again and again: a spec from a few fields, a plausible benchmark round."""

from __future__ import annotations

from typing import Any

from tuning.evaluation.metrics import RoundMetrics
from tuning.spec import TuningSpec

LATENCIES = ("ttft", "tpot", "e2e_latency")
STATISTICS = ("mean", "p50", "p90", "p99")


def make_spec(name: str = "test", **fields: Any) -> TuningSpec:
    """A valid spec: a model folder that need not exist, a small space, and any section given by keyword."""
    data: dict[str, Any] = {"name": name, "model": {"path": "/models/m"}, "search_space": {"max-num-seqs": [2, 4, 8]}}
    return TuningSpec.model_validate(data | fields)


def round_metrics(
    scenario: str = "D(100,100)",
    concurrency: int = 1,
    throughput: float = 100.0,
    latency: float = 0.1,
    **metrics: Any,
) -> RoundMetrics:
    """A plausible round: every latency statistic ``latency`` seconds, input and output ``throughput`` tokens/s.

    Any column can be set by keyword (``ttft_p90=0.3``, ``error_rate=0.1``).
    """
    fields: dict[str, Any] = {f"{m}_{s}": latency for m in LATENCIES for s in STATISTICS}
    fields |= {
        "input_throughput": throughput,
        "output_throughput": throughput,
        "total_throughput": 2 * throughput,
        "requests_per_second": 1.0,
        "error_rate": 0.0,
        "num_completed": 10,
        "num_failed": 0,
        "duration": 5.0,
        "source_file": f"{scenario.replace('(', '').replace(')', '').replace(',', '_')}_c{concurrency}.json",
    }
    return RoundMetrics(scenario=scenario, concurrency=concurrency, **(fields | metrics))
