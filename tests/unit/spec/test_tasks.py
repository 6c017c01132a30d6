"""The genai-bench tasks a spec may benchmark: which traffic scenarios fit each, and what a task without generated
tokens can be tuned for."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tuning.spec import BenchmarkSpec, BenchmarkTask, ObjectiveMetric
from tuning.spec.loading import SpecError, spec_from_data

TEXT, EMBEDDINGS, RERANK = "text-to-text", "text-to-embeddings", "text-to-rerank"
SCENARIOS = {
    TEXT: ["D(100,100)", "N(480,240)/(300,150)", "U(50,100)/(200,250)"],
    EMBEDDINGS: ["E(64)"],
    RERANK: ["R(64,16)"],
}
BATCHED = (EMBEDDINGS, RERANK)
GENERATED = (
    "output_throughput",
    "output_throughput_per_gpu",
    "output_throughput_per_user",
    "cost_per_million_output_tokens",
    "tpot",
)
BASE: dict[str, Any] = {
    "name": "unit",
    "model": {"path": "/models/tiny-llama"},
    "search_space": {"max-num-seqs": [1, 8]},
    "hardware": {"gpu_hour_price": 2.5},  # so that a cost objective is refused for its task, not for its price
}


def spec_data(task: str, objective: str = "total_throughput", **sections: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["benchmark"] = {"task": task, "traffic_scenarios": SCENARIOS[task][:1]}
    data["objective"] = objective
    data["slos"] = [{"metric": "e2e_latency", "statistic": "p90", "max": 2.0}]
    return data | sections


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as excinfo:
        spec_from_data(data)
    return "\n".join(excinfo.value.problems)


MISFITS = [
    (task, scenario) for task in SCENARIOS for other in SCENARIOS if other != task for scenario in SCENARIOS[other]
]


# --- scenarios per task ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "scenario"), [(t, s) for t, scenarios in SCENARIOS.items() for s in scenarios])
def test_each_task_takes_its_own_scenarios(task: str, scenario: str) -> None:
    spec = BenchmarkSpec(task=task, traffic_scenarios=[scenario])

    assert spec.task is BenchmarkTask(task)
    assert spec.traffic_scenarios == [scenario]


@pytest.mark.parametrize(("task", "scenario"), MISFITS)
def test_a_scenario_of_another_task_is_refused_naming_both(task: str, scenario: str) -> None:
    data = spec_data(task)
    data["benchmark"]["traffic_scenarios"] = [*SCENARIOS[task][:1], scenario]

    message = problems(data)

    assert "benchmark" in message
    assert f"traffic scenario {scenario!r} does not fit task {task}" in message


@pytest.mark.parametrize(
    ("task", "kinds"), [(TEXT, "D(...) or N(...) or U(...)"), (EMBEDDINGS, "E(...)"), (RERANK, "R(...)")]
)
def test_a_misfit_says_which_scenarios_the_task_takes(task: str, kinds: str) -> None:
    scenario = SCENARIOS[RERANK if task == EMBEDDINGS else EMBEDDINGS][0]

    with pytest.raises(ValueError) as excinfo:
        BenchmarkSpec(task=task, traffic_scenarios=[scenario])

    assert f"it takes {kinds}" in str(excinfo.value)


def test_the_default_scenario_does_not_fit_an_embeddings_task() -> None:
    with pytest.raises(ValueError, match=r"'D\(100,100\)' does not fit task text-to-embeddings"):
        BenchmarkSpec(task=EMBEDDINGS)


@pytest.mark.parametrize("task", sorted(SCENARIOS))
def test_the_dataset_scenario_fits_every_task(task: str) -> None:
    spec = BenchmarkSpec(task=task, traffic_scenarios=["dataset"], dataset="/data/prompts.jsonl")

    assert spec.traffic_scenarios == ["dataset"]


# --- objectives and SLOs of tasks that generate no tokens ------------------------------------------------------


@pytest.mark.parametrize("task", BATCHED)
@pytest.mark.parametrize("metric", GENERATED)
def test_an_objective_on_generated_tokens_is_refused_for_a_task_without_them(task: str, metric: str) -> None:
    message = problems(spec_data(task, objective=metric))

    assert f"{metric} measures generated tokens, and task {task} generates none" in message
    assert "use total_throughput, requests_per_second, goodput or e2e_latency" in message


@pytest.mark.parametrize("task", BATCHED)
def test_a_generated_token_objective_among_several_is_refused(task: str) -> None:
    data = spec_data(task, objectives=["total_throughput", "output_throughput_per_user"])
    del data["objective"]

    assert f"output_throughput_per_user measures generated tokens, and task {task}" in problems(data)


@pytest.mark.parametrize("task", BATCHED)
@pytest.mark.parametrize("hard", [True, False], ids=["hard", "soft"])
def test_a_tpot_slo_is_refused_for_a_task_without_generated_tokens(task: str, hard: bool) -> None:
    slos = [{"metric": "ttft", "max": 1.0}, {"metric": "tpot", "statistic": "p90", "max": 0.05, "hard": hard}]

    message = problems(spec_data(task, slos=slos))

    assert f"slos: tpot measures generated tokens, and task {task} generates none" in message
    assert "ttft or e2e_latency SLOs" in message


@pytest.mark.parametrize("task", BATCHED)
@pytest.mark.parametrize(
    "objective", ["total_throughput", "total_throughput_per_gpu", "requests_per_second", "goodput", "e2e_latency"]
)
def test_what_a_task_without_generated_tokens_can_be_tuned_for_is_accepted(task: str, objective: str) -> None:
    slos = [{"metric": "ttft", "statistic": "p90", "max": 1.0}, {"metric": "e2e_latency", "max": 2.0}]

    spec = spec_from_data(spec_data(task, objective=objective, slos=slos))

    assert spec.benchmark.task is BenchmarkTask(task)
    assert spec.objective.metric is ObjectiveMetric(objective)


@pytest.mark.parametrize("metric", GENERATED)
def test_text_to_text_may_still_be_tuned_for_generated_tokens(metric: str) -> None:
    slos = [{"metric": "tpot", "statistic": "p90", "max": 0.05}]

    spec = spec_from_data(spec_data(TEXT, objective=metric, slos=slos))

    assert spec.objective.metric is ObjectiveMetric(metric)
    assert [s.metric.value for s in spec.slos] == ["tpot"]
