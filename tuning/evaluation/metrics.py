"""The typed measurements a benchmark yields: one round per traffic scenario and concurrency level.

``RoundMetrics`` is also the column set of the ``benchmarkround`` table, so a metric is spelled once.
Latencies are in seconds, throughputs in tokens per second.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Field, SQLModel


class RoundMetrics(SQLModel):
    scenario: str = Field(description="genai-bench traffic scenario, e.g. D(100,100)")
    concurrency: int = Field(description="Concurrent requests genai-bench kept in flight")
    ttft_mean: float
    ttft_p50: float
    ttft_p90: float
    ttft_p99: float
    tpot_mean: float
    tpot_p50: float
    tpot_p90: float
    tpot_p99: float
    e2e_latency_mean: float
    e2e_latency_p50: float
    e2e_latency_p90: float
    e2e_latency_p99: float
    input_throughput: float = Field(description="Server input tokens per second")
    output_throughput: float = Field(description="Server output tokens per second")
    total_throughput: float = Field(description="Server input + output tokens per second")
    requests_per_second: float
    error_rate: float = Field(description="Failed requests / all requests")
    num_completed: int
    num_failed: int
    duration: float = Field(description="Seconds the round ran")
    source_file: str = Field(description="genai-bench result file this round was read from")

    def metric(self, name: str, statistic: str | None = None) -> float:
        """A metric by name: ``ttft``/``tpot``/``e2e_latency`` need a statistic (mean, p50, p90, p99)."""
        return float(getattr(self, f"{name}_{statistic}" if statistic else name))


class BenchmarkResult(BaseModel):
    rounds: list[RoundMetrics]
    results_dir: str
    seconds: float
