"""A capacity run on the real vLLM CPU engine and genai-bench, with the user's own prompts: each configuration's
capacity under a TTFT/TPOT SLO, the best chosen on goodput, and goodput as a hand count of genai-bench's requests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flows import tune
from tests.support.real_runs import real_engine_spec
from tuning.report.leaderboard import leaderboard_rows
from tuning.runtime import process_group
from tuning.store import Store

pytestmark = pytest.mark.e2e

TTFT_MAX, TPOT_MAX = 0.5, 0.2
# Far past what a tiny model on two cores carries within 0.5 s p90 TTFT (32 requests of 64 tokens at once, at most 4
# served at a time, the last waiting seven turns of about 0.25 s): the ladder always breaks on the way up.
LADDER = [1, 2, 4, 8, 16, 32]
RESOLUTION = 0.5


def _hand_goodput(result_file: Path) -> float:
    """Requests without an error whose own TTFT and TPOT are within the thresholds, per second of the round."""
    data = json.loads(result_file.read_text())
    good = [
        r
        for r in data["individual_request_metrics"]
        if not r["error_code"] and r["ttft"] <= TTFT_MAX and (r["tpot"] is None or r["tpot"] <= TPOT_MAX)
    ]
    return len(good) / data["aggregated_metrics"]["run_duration"]


def test_a_capacity_run_finds_each_capacity_picks_the_most_goodput_and_counts_it_from_the_requests(
    prefect_server: None, postgres_url: str, tiny_model: Path, engine_venv: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", postgres_url)
    prompts = tmp_path / "prompts.jsonl"
    lines = [{"prompt": f"Question {i}: what does a serving engine do with request number {i}?"} for i in range(30)]
    prompts.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    spec = real_engine_spec(
        "e2e-capacity",
        tiny_model,
        engine_venv,
        search_space={"max-num-seqs": [1, 4]},
        benchmark={
            "mode": "capacity",
            "traffic_scenarios": ["D(40,64)"],
            "concurrency": LADDER,
            "resolution": RESOLUTION,
            "dataset": str(prompts),
            "max_requests_per_run": 32,
            "extra_request_params": {"ignore_eos": True},
        },
        objective="goodput",
        slos=[
            {"metric": "ttft", "statistic": "p90", "max": TTFT_MAX},
            {"metric": "tpot", "statistic": "p90", "max": TPOT_MAX},
            {"metric": "error_rate", "max": 0.0},
        ],
    )

    summary = tune(spec)

    store = Store(postgres_url)
    run = store.find_run(summary.run_id)
    trials = store.trials(run.id)
    assert [t.state for t in trials] == ["succeeded", "succeeded"]
    assert summary.best_trial == max(trials, key=lambda t: t.score).number  # most goodput, as no trial is confirmed
    for trial in trials:
        rounds = store.rounds(trial.id)
        [capacity] = trial.capacity.values()
        broke = min(r.concurrency for r in rounds if any(v["concurrency"] == r.concurrency for v in trial.violations))
        # Every level up to the capacity held, the first that broke is beyond it, and bisection closed the gap.
        assert trial.feasible and capacity < broke <= LADDER[-1]
        assert broke - capacity <= max(1, math.floor(RESOLUTION * capacity))
        assert all(v["beyond_capacity"] and v["concurrency"] > capacity for v in trial.violations)
        [at_capacity] = [r for r in rounds if r.concurrency == capacity]
        assert at_capacity.ttft_p90 <= TTFT_MAX and at_capacity.tpot_p90 <= TPOT_MAX
        [result_file] = Path(trial.results_dir).rglob(at_capacity.source_file)
        assert at_capacity.goodput == pytest.approx(_hand_goodput(result_file), rel=1e-9)
        assert trial.score == pytest.approx(at_capacity.goodput)
        metadata = json.loads((result_file.parent / "experiment_metadata.json").read_text())
        assert json.loads(Path(metadata["dataset_path"]).read_text()) == [line["prompt"] for line in lines]

    rows = leaderboard_rows(store, run)
    assert all("beyond capacity: x" in row["note"] and "infeasible" not in row["note"] for row in rows)
    assert process_group.labelled(f"servetune/{run.id}/") == {}
