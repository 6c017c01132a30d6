"""Parsing real genai-bench output (a tiny Llama on vLLM's CPU build: 2 scenarios x concurrency 1 and 4)."""

import json
import re
import shutil

import pytest

from benchmarks.results import ResultParseError, parse_results, parse_round
from tests.support.paths import TEST_DATA

DATA = TEST_DATA / "genai-bench" / "tiny-llama-vllm-cpu"
LATENCIES = ("ttft", "tpot", "e2e_latency")
STATISTICS = ("mean", "p50", "p90", "p99")


def round_files():
    return sorted(p for p in DATA.glob("*.json") if p.name != "experiment_metadata.json")


def aggregated(path):
    return json.loads(path.read_text())["aggregated_metrics"]


@pytest.fixture
def results_dir(tmp_path):
    """A writable copy of the recorded experiment folder."""
    folder = tmp_path / "experiment"
    shutil.copytree(DATA, folder)
    return folder


def test_every_round_is_parsed_and_sorted_by_scenario_then_concurrency():
    rounds = parse_results(DATA)

    assert [(r.scenario, r.concurrency) for r in rounds] == [
        ("D(100,100)", 1),
        ("D(100,100)", 4),
        ("N(60,10)/(40,10)", 1),
        ("N(60,10)/(40,10)", 4),
    ]


@pytest.mark.parametrize("path", round_files(), ids=lambda p: p.name)
def test_round_values_equal_genai_bench_aggregated_metrics(path):
    expected = aggregated(path)
    assert json.loads(path.read_text()).get("_time_unit", "s") == "s"

    parsed = parse_round(path)

    assert parsed.scenario == expected["scenario"]
    assert parsed.concurrency == expected["num_concurrency"]
    for metric in LATENCIES:
        for statistic in STATISTICS:
            assert parsed.metric(metric, statistic) == pytest.approx(expected["stats"][metric][statistic])
    assert parsed.output_throughput == pytest.approx(expected["mean_output_throughput_tokens_per_s"])
    assert parsed.input_throughput == pytest.approx(expected["mean_input_throughput_tokens_per_s"])
    assert parsed.total_throughput == pytest.approx(expected["mean_total_tokens_throughput_tokens_per_s"])
    assert parsed.requests_per_second == pytest.approx(expected["requests_per_second"])
    assert parsed.error_rate == expected["error_rate"]
    assert parsed.num_completed == expected["num_completed_requests"]
    assert parsed.num_failed == expected["num_error_requests"]
    assert parsed.duration == pytest.approx(expected["run_duration"])
    assert parsed.source_file == path.name


def test_experiment_metadata_is_not_a_round():
    assert (DATA / "experiment_metadata.json").exists()

    sources = {r.source_file for r in parse_results(DATA)}

    assert "experiment_metadata.json" not in sources
    assert sources == {p.name for p in round_files()}


def test_debug_file_of_a_failed_round_is_skipped(results_dir):
    (results_dir / "debug_for_run_D100_100_num_concurrency_16.json").write_text(
        json.dumps({"error": "no metrics were collected", "requests": []})
    )

    rounds = parse_results(results_dir)

    assert len(rounds) == 4
    assert all(not r.source_file.startswith("debug_") for r in rounds)


def test_millisecond_results_are_converted_to_seconds(results_dir):
    path = results_dir / "D100_100_text-to-text_num_concurrency_4_time_6s.json"
    data = json.loads(path.read_text())
    data["_time_unit"] = "ms"
    for metric in LATENCIES:
        for statistic, value in data["aggregated_metrics"]["stats"][metric].items():
            data["aggregated_metrics"]["stats"][metric][statistic] = value * 1000
    in_ms = results_dir / "in_ms.json"
    in_ms.write_text(json.dumps(data))

    original, converted = parse_round(path), parse_round(in_ms)

    for metric in LATENCIES:
        for statistic in STATISTICS:
            assert converted.metric(metric, statistic) == pytest.approx(original.metric(metric, statistic))
    assert converted.output_throughput == pytest.approx(original.output_throughput)


def test_unknown_time_unit_is_refused(results_dir):
    path = results_dir / "D100_100_text-to-text_num_concurrency_1_time_17s.json"
    data = json.loads(path.read_text())
    data["_time_unit"] = "us"
    path.write_text(json.dumps(data))

    with pytest.raises(ResultParseError, match="time unit 'us'"):
        parse_round(path)


def test_file_without_aggregated_metrics_is_refused_naming_the_file(results_dir):
    path = results_dir / "N60_10_40_10_text-to-text_num_concurrency_1_time_7s.json"
    data = json.loads(path.read_text())
    del data["aggregated_metrics"]
    path.write_text(json.dumps(data))

    with pytest.raises(ResultParseError, match=re.escape(path.name)):
        parse_results(results_dir)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf")], ids=["None", "NaN", "inf"])
def test_non_finite_latency_is_refused_naming_file_and_field(results_dir, bad):
    path = results_dir / "D100_100_text-to-text_num_concurrency_1_time_17s.json"
    data = json.loads(path.read_text())
    data["aggregated_metrics"]["stats"]["ttft"]["p90"] = bad
    path.write_text(json.dumps(data))  # json writes NaN/Infinity, as Python's genai-bench would

    with pytest.raises(ResultParseError) as excinfo:
        parse_round(path)

    assert path.name in str(excinfo.value)
    assert "ttft.p90" in str(excinfo.value)


def test_truncated_round_file_is_refused_naming_the_file(results_dir):
    path = results_dir / "D100_100_text-to-text_num_concurrency_4_time_6s.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])

    with pytest.raises(ResultParseError, match=re.escape(path.name)):
        parse_results(results_dir)
