"""Parse the result files genai-bench writes: one JSON per scenario and concurrency level."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tuning.evaluation.goodput import RequestLimits, summarize_requests
from tuning.evaluation.metrics import RoundMetrics

_NOT_ROUNDS = ("experiment_metadata.json",)
_TIME_SCALE = {"s": 1.0, "ms": 1e-3}


class ResultParseError(ValueError):
    pass


def _finite(value: Any, where: str) -> float:
    number = float(value) if value is not None else math.nan
    if not math.isfinite(number):
        raise ResultParseError(f"{where} is {value!r}, not a finite number")
    return number


def parse_round(path: Path, limits: RequestLimits | None = None) -> RoundMetrics:
    """One round; its per-request metrics (goodput and the like) are judged against ``limits``: the spec's latency
    SLOs, per request (none: every request without an error is good)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ResultParseError(
            f"{path.name}: not valid JSON ({exc}); was genai-bench stopped while writing it?"
        ) from None
    try:
        agg = data["aggregated_metrics"]
        stats = agg["stats"]
    except (KeyError, TypeError):
        raise ResultParseError(f"{path.name}: no aggregated_metrics.stats; not a genai-bench result") from None
    unit = data.get("_time_unit", "s")
    if unit not in _TIME_SCALE:
        raise ResultParseError(f"{path.name}: unknown time unit {unit!r}")
    scale = _TIME_SCALE[unit]
    latencies = {
        f"{metric}_{stat}": _finite(stats[metric][stat], f"{path.name}: stats.{metric}.{stat}") * scale
        for metric in ("ttft", "tpot", "e2e_latency")
        for stat in ("mean", "p50", "p90", "p99")
    }
    num_requests = int(agg.get("num_requests", 0))
    failed = int(agg.get("num_error_requests", 0))
    duration = _finite(agg.get("run_duration", 0.0), f"{path.name}: run_duration")
    requests = data.get("individual_request_metrics")
    if not isinstance(requests, list):
        raise ResultParseError(f"{path.name}: no individual_request_metrics list; not a genai-bench result")
    per_request = summarize_requests(requests, limits or RequestLimits(), duration, scale)
    return RoundMetrics(
        scenario=agg["scenario"],
        # The level genai-bench varied: concurrency, or for embeddings and rerank the batch size.
        concurrency=int(agg[agg.get("iteration_type") or "num_concurrency"]),
        **latencies,
        input_throughput=_finite(agg["mean_input_throughput_tokens_per_s"], f"{path.name}: input throughput"),
        output_throughput=_finite(agg["mean_output_throughput_tokens_per_s"], f"{path.name}: output throughput"),
        total_throughput=_finite(agg["mean_total_tokens_throughput_tokens_per_s"], f"{path.name}: throughput"),
        requests_per_second=_finite(agg["requests_per_second"], f"{path.name}: requests_per_second"),
        error_rate=_finite(agg.get("error_rate", failed / num_requests if num_requests else 0), "error_rate"),
        num_completed=int(agg.get("num_completed_requests", num_requests - failed)),
        num_failed=failed,
        duration=duration,
        source_file=path.name,
        **per_request._asdict(),
    )


def is_round_file(path: Path) -> bool:
    return path.name not in _NOT_ROUNDS and not path.name.startswith("debug_")


def parse_results(folder: Path, limits: RequestLimits | None = None) -> list[RoundMetrics]:
    """Every round in a genai-bench experiment folder, ordered by scenario then concurrency.

    ``experiment_metadata.json`` describes the run, and ``debug_for_run_*.json`` is written when a round
    produced no metrics; neither is a round.
    """
    rounds = [parse_round(path, limits) for path in sorted(folder.glob("*.json")) if is_round_file(path)]
    return sorted(rounds, key=lambda r: (r.scenario, r.concurrency))
