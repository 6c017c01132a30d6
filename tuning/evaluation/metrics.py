"""The typed measurements a benchmark yields: one round per traffic scenario and concurrency level.

``RoundMetrics`` is also the column set of the ``benchmarkround`` table, so a metric is spelled once.
Latencies are in seconds, throughputs in tokens per second.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Field, SQLModel


class RoundMetrics(SQLModel):
    scenario: str = Field(description="genai-bench traffic scenario, e.g. D(100,100)")
    concurrency: int = Field(
        description="Concurrent requests genai-bench kept in flight; for the embeddings and rerank tasks, the batch "
        "size (inputs per request) with one request in flight"
    )
    ttft_mean: float = Field(description="Time to first token, mean over the round's requests (s)")
    ttft_p50: float = Field(description="Time to first token, median over the round's requests (s)")
    ttft_p90: float = Field(description="Time to first token, 90th percentile over the round's requests (s)")
    ttft_p99: float = Field(description="Time to first token, 99th percentile over the round's requests (s)")
    tpot_mean: float = Field(description="Time per output token after the first, mean over the round's requests (s)")
    tpot_p50: float = Field(description="Time per output token after the first, median over the round's requests (s)")
    tpot_p90: float = Field(
        description="Time per output token after the first, 90th percentile over the round's requests (s)"
    )
    tpot_p99: float = Field(
        description="Time per output token after the first, 99th percentile over the round's requests (s)"
    )
    e2e_latency_mean: float = Field(
        description="Request latency, first byte sent to last token, mean over the round's requests (s)"
    )
    e2e_latency_p50: float = Field(
        description="Request latency, first byte sent to last token, median over the round's requests (s)"
    )
    e2e_latency_p90: float = Field(
        description="Request latency, first byte sent to last token, 90th percentile over the round's requests (s)"
    )
    e2e_latency_p99: float = Field(
        description="Request latency, first byte sent to last token, 99th percentile over the round's requests (s)"
    )
    input_throughput: float = Field(description="Server input tokens per second")
    output_throughput: float = Field(description="Server output tokens per second")
    total_throughput: float = Field(description="Server input + output tokens per second")
    requests_per_second: float = Field(description="Completed requests per second")
    error_rate: float = Field(description="Failed requests / all requests")
    num_completed: int = Field(description="Requests that completed")
    num_failed: int = Field(description="Requests that failed")
    duration: float = Field(description="Seconds the round ran")
    # Read from the round's per-request metrics; rounds stored before release 0.2 have none.
    goodput: float | None = Field(
        default=None,
        description="Requests per second whose own TTFT, TPOT and end-to-end latency each meet their SLO's max",
    )
    slo_attainment: float | None = Field(
        default=None, description="Share of the round's requests that meet every latency SLO's max (0-1)"
    )
    output_throughput_per_user: float | None = Field(
        default=None, description="Output tokens per second one request receives while it streams, mean (tok/s)"
    )
    source_file: str = Field(description="genai-bench result file this round was read from")

    def metric(self, name: str, statistic: str | None = None) -> float:
        """A metric by name: ``ttft``/``tpot``/``e2e_latency`` need a statistic (mean, p50, p90, p99)."""
        return float(getattr(self, f"{name}_{statistic}" if statistic else name))


class BenchmarkResult(BaseModel):
    rounds: list[RoundMetrics]
    results_dir: str
    seconds: float
