"""The embeddings and rerank tasks on the real vLLM CPU engine (a pooling model) and genai-bench, whose levels are
batch sizes: each is benchmarked, scored on its own metrics and stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import tune
from tests.support.real_runs import FAST_START_ENV, real_engine_spec
from tuning.store import Store

pytestmark = pytest.mark.e2e

POOLING = {
    "text-to-embeddings": ({"runner": "pooling", "convert": "embed"}, "E(32)"),
    # The tiny model has no classifier head: without a rule to make one, vLLM leaves its weights uninitialised memory,
    # and a score can come out NaN (the engine then answers HTTP 400). This one takes the head from the lm_head row
    # of a token, as vLLM does for bge-reranker-v2-gemma.
    "text-to-rerank": (
        {
            "runner": "pooling",
            "convert": "classify",
            "hf-overrides": '{"num_labels": 1, "method": "no_post_processing", "classifier_from_token": ["</s>"]}',
        },
        "R(32,8)",
    ),
}


@pytest.mark.parametrize("task", sorted(POOLING))
def test_a_pooling_task_is_benchmarked_per_batch_size_and_scored_on_input_throughput(
    task: str, prefect_server: None, postgres_url: str, tiny_model: Path, engine_venv: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", postgres_url)
    pooling_args, scenario = POOLING[task]
    spec = real_engine_spec(
        f"e2e-{task}",
        tiny_model,
        engine_venv,
        search_space={"max-num-seqs": [4]},
        engine={
            "venv": str(engine_venv),
            "args": {"dtype": "float32", "enforce-eager": True, "max-model-len": 512, **pooling_args},
            "env": FAST_START_ENV,
        },
        benchmark={"task": task, "traffic_scenarios": [scenario], "concurrency": [1, 4], "max_requests_per_run": 6},
        objectives=["total_throughput"],
        slos=[{"metric": "e2e_latency", "statistic": "p90", "max": 30.0}, {"metric": "error_rate", "max": 0.0}],
    )

    summary = tune(spec)

    store = Store(postgres_url)
    [trial] = store.trials(summary.run_id)
    rounds = store.rounds(trial.id)
    assert (trial.state, trial.feasible) == ("succeeded", True)
    # The levels are batch sizes, one request in flight: genai-bench's own files say so in their names.
    assert [(r.concurrency, f"batch_size_{r.concurrency}_" in r.source_file) for r in rounds] == [(1, True), (4, True)]
    assert all(r.num_completed > 0 and r.error_rate == 0 and r.output_throughput == 0 for r in rounds)
    assert trial.score == pytest.approx(sum(r.total_throughput for r in rounds) / 2)
    assert trial.score > 0
