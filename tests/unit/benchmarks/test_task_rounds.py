"""The level genai-bench varies per task: concurrency for generation, the batch size for embeddings and rerank, both
on its command line and in the rounds read back from its result files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.genai_bench import genai_bench_command
from benchmarks.results import parse_results, parse_round
from tests.support.paths import TEST_DATA
from tuning.spec import BenchmarkSpec, ModelSpec

DATA = TEST_DATA / "genai-bench" / "tiny-llama-vllm-cpu"
RECORDED = DATA / "D100_100_text-to-text_num_concurrency_4_time_6s.json"
BATCHED = {"text-to-embeddings": "E(64)", "text-to-rerank": "R(64,16)"}


def command(spec: BenchmarkSpec, tmp_path: Path, levels: list[int] | None = None) -> list[str]:
    model = ModelSpec(path="/models/tiny-llama")
    return genai_bench_command("http://127.0.0.1:8000", model, "vllm", spec, tmp_path / "genai-bench", levels)


def values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, item in enumerate(argv) if item == flag]


def result_file(folder: Path, name: str, **aggregated: Any) -> Path:
    """A copy of a recorded genai-bench result with some of its aggregated metrics changed."""
    data = json.loads(RECORDED.read_text())
    data["aggregated_metrics"].update(aggregated)
    path = folder / name
    path.write_text(json.dumps(data))
    return path


# --- the command -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", sorted(BATCHED))
def test_the_levels_of_embeddings_and_rerank_are_batch_sizes(task: str, tmp_path: Path) -> None:
    spec = BenchmarkSpec(task=task, traffic_scenarios=[BATCHED[task]], concurrency=[32, 1, 8], max_requests_per_run=32)

    argv = command(spec, tmp_path)

    assert values(argv, "--task") == [task]
    assert values(argv, "--batch-size") == ["1", "8", "32"]
    assert "--num-concurrency" not in argv
    assert values(command(spec, tmp_path, levels=[12]), "--batch-size") == ["12"]


def test_the_levels_of_text_to_text_are_concurrencies(tmp_path: Path) -> None:
    spec = BenchmarkSpec(task="text-to-text", concurrency=[4, 1])

    argv = command(spec, tmp_path)

    assert values(argv, "--task") == ["text-to-text"]
    assert values(argv, "--num-concurrency") == ["1", "4"]
    assert "--batch-size" not in argv


# --- the rounds ------------------------------------------------------------------------------------------------


def test_an_embeddings_round_is_at_its_batch_size(tmp_path: Path) -> None:
    path = result_file(
        tmp_path,
        "E64_text-to-embeddings_batch_size_8_time_5s.json",
        scenario="E(64)",
        iteration_type="batch_size",
        batch_size=8,
        num_concurrency=1,
    )

    round_ = parse_round(path)

    assert (round_.scenario, round_.concurrency) == ("E(64)", 8)
    assert round_.source_file == path.name


def test_a_text_round_is_at_its_concurrency_whatever_its_batch_size(tmp_path: Path) -> None:
    path = result_file(tmp_path, "r.json", iteration_type="num_concurrency", num_concurrency=16, batch_size=1)

    assert parse_round(path).concurrency == 16


def test_a_round_that_does_not_name_its_level_is_at_its_concurrency(tmp_path: Path) -> None:
    data = json.loads(RECORDED.read_text())
    del data["aggregated_metrics"]["iteration_type"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))

    assert parse_round(path).concurrency == data["aggregated_metrics"]["num_concurrency"] == 4


def test_embeddings_rounds_are_ordered_by_batch_size(tmp_path: Path) -> None:
    for size in (32, 2, 8):
        result_file(
            tmp_path,
            f"E64_text-to-embeddings_batch_size_{size}_time_5s.json",
            scenario="E(64)",
            iteration_type="batch_size",
            batch_size=size,
            num_concurrency=1,
        )

    assert [r.concurrency for r in parse_results(tmp_path)] == [2, 8, 32]
