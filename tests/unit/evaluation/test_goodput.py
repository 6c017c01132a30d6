"""Goodput and SLO attainment: each request judged on its own latencies, as genai-bench recorded them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.results import parse_round
from tests.support.factories import make_spec, round_metrics
from tests.support.paths import TEST_DATA
from tuning.evaluation.goodput import RequestLimits, counted_requests, is_good, summarize_requests
from tuning.evaluation.scoring import ScoringError, score_trial

DATA = TEST_DATA / "genai-bench" / "tiny-llama-vllm-cpu"
BUSY = DATA / "D100_100_text-to-text_num_concurrency_4_time_6s.json"  # 21 requests, TTFT 27-94 ms
LATENCIES = ("ttft", "tpot", "e2e_latency", "output_latency")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def good_by_hand(records: list[dict[str, Any]], ttft: float, tpot: float) -> int:
    return sum(
        1 for r in records if not r["error_code"] and r["ttft"] <= ttft and (r["tpot"] is None or r["tpot"] <= tpot)
    )


def request(ttft: float = 0.1, tpot: float | None = 0.01, e2e: float = 1.0, **fields: Any) -> dict[str, Any]:
    """One request as genai-bench records it, in seconds."""
    record = {"ttft": ttft, "tpot": tpot, "e2e_latency": e2e, "output_inference_speed": 100.0, "error_code": None}
    return record | fields


# --- against a real genai-bench round ------------------------------------------------------------------------


@pytest.mark.parametrize(("ttft", "tpot"), [(0.05, 0.0095), (0.07, 0.0102), (0.04, 1.0)])
def test_goodput_of_a_real_round_is_its_good_requests_per_second_of_run_time(ttft: float, tpot: float) -> None:
    data = load(BUSY)
    records = data["individual_request_metrics"]
    good = good_by_hand(records, ttft, tpot)
    assert 0 < good < len(records)  # the thresholds split the round's requests

    parsed = parse_round(BUSY, RequestLimits(ttft=ttft, tpot=tpot))

    assert parsed.goodput == pytest.approx(good / data["aggregated_metrics"]["run_duration"])
    assert parsed.slo_attainment == pytest.approx(good / len(records))


@pytest.mark.parametrize("path", sorted(p for p in DATA.glob("*.json") if p.name != "experiment_metadata.json"))
def test_without_limits_every_request_is_good_and_goodput_is_the_request_rate(path: Path) -> None:
    data = load(path)
    records = data["individual_request_metrics"]

    parsed = parse_round(path)

    assert parsed.goodput == pytest.approx(len(records) / data["aggregated_metrics"]["run_duration"])
    assert parsed.slo_attainment == 1.0
    # Per user: the mean rate of the requests whose output streamed (not all in one chunk at the end).
    speeds = [r["output_inference_speed"] for r in records if r["output_latency"] >= 0.05 * r["e2e_latency"]]
    assert parsed.output_throughput_per_user == pytest.approx(sum(speeds) / len(speeds))


def test_a_request_whose_answer_arrived_in_one_chunk_does_not_count_towards_the_rate_per_user() -> None:
    streamed = request(e2e=0.6, output_latency=0.5, output_inference_speed=200.0)
    one_chunk = request(ttft=0.599, e2e=0.6, output_latency=0.001, output_inference_speed=90000.0)

    summary = summarize_requests([streamed, streamed, one_chunk], RequestLimits(), duration=1.0)

    assert summary.output_throughput_per_user == pytest.approx(200.0)
    assert summary.goodput == pytest.approx(3.0)  # it is still a request served


def test_warmup_and_cooldown_leave_out_int_n_times_ratio_requests_from_each_end() -> None:
    data = load(BUSY)
    records = data["individual_request_metrics"]
    limits = RequestLimits(ttft=0.05, tpot=0.0095, warmup_ratio=0.15, cooldown_ratio=0.1)
    kept = records[3:19]  # 21 requests: int(3.15) = 3 warmup, int(2.1) = 2 cooldown
    good = good_by_hand(kept, 0.05, 0.0095)
    assert good < good_by_hand(records, 0.05, 0.0095)  # the last request, left out, was a good one

    summary = summarize_requests(records, limits, data["aggregated_metrics"]["run_duration"])

    assert counted_requests(records, limits) == kept
    assert summary.goodput == pytest.approx(good / data["aggregated_metrics"]["run_duration"])
    assert summary.slo_attainment == pytest.approx(good / len(kept))


def test_slow_warmup_and_cooldown_requests_do_not_count_against_the_round() -> None:
    records = [request(ttft=5.0)] * 2 + [request()] * 7 + [request(ttft=5.0)]
    limits = RequestLimits(ttft=1.0, warmup_ratio=0.25, cooldown_ratio=0.1)  # int(2.5) = 2, int(1.0) = 1

    summary = summarize_requests(records, limits, duration=7.0)

    assert summary.slo_attainment == 1.0
    assert summary.goodput == pytest.approx(1.0)
    assert summarize_requests(records, RequestLimits(ttft=1.0), duration=7.0).slo_attainment == pytest.approx(0.7)


def test_ms_results_give_the_same_goodput_as_seconds(tmp_path: Path) -> None:
    data = load(BUSY)
    data["_time_unit"] = "ms"
    for stats in (data["aggregated_metrics"]["stats"][m] for m in LATENCIES):
        for statistic in [s for s, v in stats.items() if isinstance(v, float)]:
            stats[statistic] *= 1000
    for record in data["individual_request_metrics"]:
        for metric in LATENCIES:
            if record[metric] is not None:
                record[metric] *= 1000  # genai-bench converts latencies only; run_duration stays in seconds
    in_ms = tmp_path / BUSY.name
    in_ms.write_text(json.dumps(data))
    limits = RequestLimits(ttft=0.05, tpot=0.0095)

    original, converted = parse_round(BUSY, limits), parse_round(in_ms, limits)

    assert converted.goodput == pytest.approx(original.goodput)
    assert converted.slo_attainment == pytest.approx(original.slo_attainment)
    assert converted.slo_attainment is not None
    assert 0 < converted.slo_attainment < 1  # the thresholds were compared in seconds, not milliseconds
    assert converted.output_throughput_per_user == pytest.approx(original.output_throughput_per_user)


def test_ms_scale_turns_each_latency_into_seconds() -> None:
    limits = RequestLimits(ttft=0.5, tpot=0.02, e2e_latency=2.0)

    assert is_good(request(ttft=400.0, tpot=15.0, e2e=1500.0), limits, scale=1e-3) is True
    assert is_good(request(ttft=600.0, tpot=15.0, e2e=1500.0), limits, scale=1e-3) is False
    assert is_good(request(ttft=400.0, tpot=25.0, e2e=1500.0), limits, scale=1e-3) is False
    assert is_good(request(ttft=400.0, tpot=15.0, e2e=2500.0), limits, scale=1e-3) is False


# --- one request ---------------------------------------------------------------------------------------------


def test_an_errored_request_is_never_good_and_gives_no_speed() -> None:
    failed = request(ttft=0.01, error_code=500, output_inference_speed=1000.0)
    records = [request(), failed]

    summary = summarize_requests(records, RequestLimits(), duration=2.0)

    assert is_good(failed, RequestLimits(), scale=1.0) is False
    assert summary.goodput == pytest.approx(0.5)
    assert summary.slo_attainment == pytest.approx(0.5)
    assert summary.output_throughput_per_user == pytest.approx(100.0)


def test_a_request_without_tpot_is_not_held_to_the_tpot_limit() -> None:
    limits = RequestLimits(ttft=1.0, tpot=0.01)

    assert is_good(request(tpot=None), limits, scale=1.0) is True
    assert is_good(request(tpot=0.02), limits, scale=1.0) is False


def test_a_latency_exactly_at_its_limit_is_good() -> None:
    assert is_good(request(ttft=0.5), RequestLimits(ttft=0.5), scale=1.0) is True


def test_a_round_without_requests_or_time_reports_zero_not_an_error() -> None:
    assert summarize_requests([], RequestLimits(ttft=1.0), duration=0.0) == (0.0, 0.0, 0.0)


# --- the limits a spec sets ----------------------------------------------------------------------------------


def test_request_limits_take_the_tightest_max_per_metric_and_ignore_error_rate() -> None:
    spec = make_spec(
        slos=[
            {"metric": "ttft", "statistic": "p90", "max": 1.0},
            {"metric": "ttft", "statistic": "p99", "max": 0.5, "hard": False},
            {"metric": "tpot", "statistic": "mean", "max": 0.05},
            {"metric": "error_rate", "max": 0.01},
        ],
        benchmark={"warmup_ratio": 0.1, "cooldown_ratio": 0.2},
    )

    limits = RequestLimits.of(spec)

    assert limits == RequestLimits(ttft=0.5, tpot=0.05, e2e_latency=None, warmup_ratio=0.1, cooldown_ratio=0.2)


def test_a_spec_without_latency_slos_or_ratios_sets_no_limit() -> None:
    limits = RequestLimits.of(make_spec(slos=[{"metric": "error_rate", "max": 0.0}]))

    assert limits == RequestLimits()


# --- scoring -------------------------------------------------------------------------------------------------


def test_goodput_objective_reads_the_rounds_goodput_per_gpu() -> None:
    spec = make_spec(objective="goodput_per_gpu", slos=[{"metric": "ttft", "max": 1.0}])
    rounds = [round_metrics(concurrency=1, goodput=4.0), round_metrics(concurrency=4, goodput=8.0)]

    assert score_trial(spec, rounds, gpus=2).value == pytest.approx(3.0)


def test_a_goodput_objective_on_a_round_stored_without_it_is_refused_naming_the_round() -> None:
    spec = make_spec(objective="goodput", slos=[{"metric": "ttft", "max": 1.0}])

    with pytest.raises(ScoringError, match=r"D\(100,100\) x4 has no goodput"):
        score_trial(spec, [round_metrics(concurrency=4)], gpus=1)
