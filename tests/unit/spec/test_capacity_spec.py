"""The spec of load modes, per-request objectives and the user's own traffic: what it accepts and how it refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.spec.conftest import Refusal
from tuning.spec import BenchmarkSpec, DatasetSpec, LoadMode, ObjectiveMetric
from tuning.spec.loading import SpecError, spec_from_data

BASE: dict[str, Any] = {
    "name": "unit",
    "model": {"path": "/models/tiny-llama"},
    "search_space": {"max-num-seqs": [1, 8]},
    "benchmark": {"traffic_scenarios": ["D(100,100)"], "concurrency": [1, 4]},
    "slos": [{"metric": "ttft", "statistic": "p90", "max": 1.0}],
}
CAPACITY = {"traffic_scenarios": ["D(100,100)"], "concurrency": [1, 2, 4, 8], "mode": "capacity"}


def spec_data(**sections: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(sections)
    return data


def problems(data: dict[str, Any]) -> str:
    """The lines a user is shown for a spec that is refused."""
    with pytest.raises(SpecError) as excinfo:
        spec_from_data(data)
    return "\n".join(excinfo.value.problems)


# --- objectives each mode and SLO set can measure ---------------------------------------------------------


@pytest.mark.parametrize("metric", ["capacity", "capacity_per_gpu"])
def test_a_capacity_objective_needs_capacity_mode(metric: str) -> None:
    message = problems(spec_data(objective=metric))

    assert f"objective {metric} is found only by benchmark.mode 'capacity' (now 'levels')" in message


def test_a_capacity_objective_in_capacity_mode_is_accepted() -> None:
    spec = spec_from_data(spec_data(objective="capacity", benchmark=CAPACITY))

    assert spec.benchmark.mode is LoadMode.capacity
    assert spec.objective.metric is ObjectiveMetric.capacity


@pytest.mark.parametrize("metric", ["goodput", "goodput_per_gpu", "slo_attainment"])
@pytest.mark.parametrize("slos", [[], [{"metric": "error_rate", "max": 0.01}]], ids=["no SLO", "error rate only"])
def test_per_request_objectives_need_a_latency_slo(metric: str, slos: list[dict[str, Any]]) -> None:
    message = problems(spec_data(objective=metric, slos=slos))

    assert f"objective {metric} counts the requests that meet the latency SLOs" in message
    assert "add a ttft, tpot or e2e_latency SLO" in message


def test_a_soft_latency_slo_is_enough_for_goodput() -> None:
    spec = spec_from_data(spec_data(objective="goodput", slos=[{"metric": "tpot", "max": 0.05, "hard": False}]))

    assert spec.objective.metric is ObjectiveMetric.goodput


def test_cost_needs_a_gpu_hour_price() -> None:
    message = problems(spec_data(objective="cost_per_million_output_tokens"))

    assert "cost_per_million_output_tokens needs hardware.gpu_hour_price" in message
    priced = spec_from_data(spec_data(objective="cost_per_million_output_tokens", hardware={"gpu_hour_price": 2.5}))
    assert priced.objective.maximize is False


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_capacity_mode_refuses_a_pruner(pruner: str) -> None:
    message = problems(spec_data(benchmark=CAPACITY, strategy={"pruner": pruner}))

    assert f"strategy.pruner '{pruner}' cannot be used with benchmark.mode 'capacity'" in message
    assert "use pruner 'none'" in message


@pytest.mark.parametrize(
    "slos",
    [[], [{"metric": "ttft", "max": 1.0, "hard": False}], [{"metric": "error_rate", "max": 0.1, "hard": False}]],
    ids=["none", "soft latency", "soft error rate"],
)
def test_capacity_mode_needs_a_hard_slo(slos: list[dict[str, Any]]) -> None:
    message = problems(spec_data(benchmark=CAPACITY, slos=slos))

    assert "benchmark.mode 'capacity'" in message
    assert "slos has no hard one" in message


def test_a_hard_error_rate_slo_is_enough_for_capacity_mode() -> None:
    spec = spec_from_data(spec_data(benchmark=CAPACITY, slos=[{"metric": "error_rate", "max": 0.0}]))

    assert spec.benchmark.mode is LoadMode.capacity


@pytest.mark.parametrize("resolution", [0, -0.1, 1.5, float("nan")])
def test_resolution_outside_zero_to_one_is_refused_naming_the_field(resolution: float) -> None:
    message = problems(spec_data(benchmark=CAPACITY | {"resolution": resolution}))

    assert "benchmark.resolution" in message


def test_a_level_above_the_requests_of_a_round_is_refused() -> None:
    """A round ends after max_requests_per_run requests: at a higher concurrency that load never happens."""
    benchmark = CAPACITY | {"concurrency": [1, 8, 64], "max_requests_per_run": 32}

    message = problems(spec_data(benchmark=benchmark))

    assert "benchmark: " in message and "concurrency level 64 is above max_requests_per_run (32)" in message
    assert "at least 64" in message


# --- objectives preset ------------------------------------------------------------------------------------


def test_the_user_vs_gpu_preset_expands_to_per_user_against_per_gpu_throughput() -> None:
    spec = spec_from_data(spec_data(objectives="user-vs-gpu"))

    assert [o.metric for o in spec.objectives] == [
        ObjectiveMetric.output_throughput_per_user,
        ObjectiveMetric.output_throughput_per_gpu,
    ]
    assert all(o.maximize for o in spec.objectives)


def test_an_unknown_preset_is_refused_listing_the_known_ones() -> None:
    message = problems(spec_data(objectives="user-vs-cpu"))

    assert "objectives" in message
    assert "'user-vs-cpu' is not an objectives preset" in message
    assert "user-vs-gpu" in message


# --- the user's own traffic -------------------------------------------------------------------------------


def test_a_dataset_given_as_a_string_is_its_path(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"

    spec = spec_from_data(spec_data(benchmark={"dataset": str(prompts)}))

    assert spec.benchmark.dataset == DatasetSpec(path=str(prompts))


def test_a_relative_dataset_path_is_taken_from_the_spec_files_folder(tmp_path: Path) -> None:
    bench = spec_from_data(spec_data(benchmark={"dataset": "./prompts.jsonl"}), base_dir=tmp_path).benchmark

    assert bench.dataset is not None
    assert bench.dataset.path == str(tmp_path / "prompts.jsonl")


def test_a_missing_dataset_file_is_reported_naming_the_field(tmp_path: Path) -> None:
    absent = tmp_path / "absent.jsonl"

    bench = BenchmarkSpec(dataset=str(absent))

    assert bench.missing_files() == [f"benchmark.dataset.path: no such file: {absent}"]


def test_a_missing_dataset_config_is_reported_naming_the_field(tmp_path: Path) -> None:
    absent = tmp_path / "dataset.json"

    bench = BenchmarkSpec(dataset={"config": str(absent)})

    assert bench.missing_files() == [f"benchmark.dataset.config: no such file: {absent}"]


def test_validate_refuses_a_spec_whose_dataset_file_is_missing(tmp_path: Path, refusal: Refusal) -> None:
    err = refusal(yaml.safe_dump(spec_data(benchmark={"dataset": "./absent.jsonl"})))

    assert f"benchmark.dataset.path: no such file: {tmp_path / 'absent.jsonl'}" in err


def test_an_existing_dataset_file_is_not_reported(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "What is the capital of France?"}) + "\n")

    assert BenchmarkSpec(dataset=str(prompts)).missing_files() == []


@pytest.mark.parametrize("hub_id", ["squad", "openai/gsm8k"])
def test_a_hub_dataset_id_is_not_checked_as_a_file(hub_id: str) -> None:
    assert BenchmarkSpec(dataset=hub_id).missing_files() == []


def test_no_dataset_reports_nothing_missing() -> None:
    assert BenchmarkSpec().missing_files() == []


def test_a_dataset_needs_a_path_or_a_config_but_not_both() -> None:
    assert "not neither" in problems(spec_data(benchmark={"dataset": {"prompt_column": "q"}}))
    assert "not both" in problems(spec_data(benchmark={"dataset": {"path": "/p.jsonl", "config": "/c.json"}}))


def test_prefix_len_and_prefix_ratio_are_exclusive() -> None:
    message = problems(spec_data(benchmark={"prefix_len": 10, "prefix_ratio": 0.5}))

    assert "benchmark" in message
    assert "prefix_len or prefix_ratio, not both" in message


def test_prefix_ratio_needs_deterministic_scenarios() -> None:
    message = problems(
        spec_data(benchmark={"traffic_scenarios": ["D(100,100)", "N(60,10)/(40,10)"], "prefix_ratio": 0.5})
    )

    assert "prefix_ratio needs deterministic D(in,out) traffic scenarios" in message
    accepted = spec_from_data(spec_data(benchmark={"traffic_scenarios": ["D(100,100)"], "prefix_ratio": 0.5}))
    assert accepted.benchmark.prefix_ratio == 0.5


@pytest.mark.parametrize(("warmup", "cooldown"), [(0.5, 0.5), (0.7, 0.4)])
def test_warmup_and_cooldown_must_leave_requests_to_measure(warmup: float, cooldown: float) -> None:
    message = problems(spec_data(benchmark={"warmup_ratio": warmup, "cooldown_ratio": cooldown}))

    assert f"warmup_ratio ({warmup}) + cooldown_ratio ({cooldown})" in message
    assert "sum must be below 1" in message


def test_warmup_and_cooldown_below_one_together_are_accepted() -> None:
    spec = spec_from_data(spec_data(benchmark={"warmup_ratio": 0.4, "cooldown_ratio": 0.5}))

    assert (spec.benchmark.warmup_ratio, spec.benchmark.cooldown_ratio) == (0.4, 0.5)
