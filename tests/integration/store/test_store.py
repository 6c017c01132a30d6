"""The store on SQLite and on a real PostgreSQL: what a run writes is what `servetune show` reads."""

from __future__ import annotations

import pytest

from tests.support.factories import make_spec, round_metrics
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.scoring import Score, SLOViolation
from tuning.spec import TuningSpec
from tuning.store import RunNotFound, Store


def _spec(name: str = "store-test") -> TuningSpec:
    return make_spec(name, search_space={"enforce-eager": [True, False]})


def _round(concurrency: int, throughput: float) -> RoundMetrics:
    return round_metrics(concurrency=concurrency, throughput=throughput)


def test_a_run_its_trials_and_rounds_round_trip(database_url: str) -> None:
    store = Store(database_url)
    run = store.start_run(_spec())
    store.start_trial(run.id, 0, {"enforce-eager": True, "max-num-seqs": 8, "gpu-memory-utilization": 0.9})
    score = Score(
        value=95.0,
        objective_value=100.0,
        penalty=0.05,
        feasible=True,
        maximize=True,
        violations=[
            SLOViolation(
                slo="ttft p90 <= 1s", scenario="D(100,100)", concurrency=4, observed=1.05, limit=1.0, hard=False
            )
        ],
    )
    outcome = TrialOutcome(
        number=0,
        params={"enforce-eager": True, "max-num-seqs": 8, "gpu-memory-utilization": 0.9},
        state=TrialState.succeeded,
        score=score,
        command=["python", "-m", "vllm.entrypoints.openai.api_server", "--enforce-eager"],
        timings={"deploy": 0.1, "ready": 30.5, "benchmark": 40.0, "cleanup": 2.0, "total": 73.0},
    )
    store.finish_trial(run.id, outcome, [_round(4, 120.0), _round(1, 80.0)])
    store.finish_run(run.id, "completed", "best: trial 0", 0)

    again = Store(database_url)
    stored = again.find_run(run.id)
    assert (stored.state, stored.best_trial, stored.maximize) == ("completed", 0, True)
    assert stored.spec["search_space"]["enforce-eager"]["values"] == [True, False]
    [trial] = again.trials(run.id)
    # Types survive the database: a bool stays a bool, so it still becomes a bare flag.
    assert trial.params == {"enforce-eager": True, "max-num-seqs": 8, "gpu-memory-utilization": 0.9}
    assert trial.params["enforce-eager"] is True
    assert (trial.state, trial.feasible, trial.score, trial.penalty) == ("succeeded", True, 95.0, 0.05)
    assert (trial.ready_seconds, trial.benchmark_seconds, trial.total_seconds) == (30.5, 40.0, 73.0)
    assert trial.violations[0]["observed"] == 1.05
    rounds = again.rounds(trial.id)
    assert [(r.concurrency, r.output_throughput) for r in rounds] == [(1, 80.0), (4, 120.0)]


def test_a_failed_trial_keeps_its_reason_and_log_tail_and_no_score(database_url: str) -> None:
    store = Store(database_url)
    run = store.start_run(_spec())
    store.start_trial(run.id, 0, {"enforce-eager": False})
    store.finish_trial(
        run.id,
        TrialOutcome(
            number=0,
            params={"enforce-eager": False},
            state=TrialState.timed_out,
            phase=Phase.ready,
            error="ReadyTimeout: the engine was not ready after 3s",
            log_tail="INFO loading weights\nINFO still loading",
        ),
        [],
    )
    [trial] = store.trials(run.id)
    assert (trial.state, trial.phase) == ("timed_out", "ready")
    assert trial.score is None and trial.feasible is None
    assert "still loading" in (trial.log_tail or "")
    assert store.rounds(trial.id) == []


def test_recording_a_trial_twice_keeps_one_row(database_url: str) -> None:
    store = Store(database_url)
    run = store.start_run(_spec())
    outcome = TrialOutcome(number=3, params={"enforce-eager": True}, state=TrialState.failed, error="boom")
    store.start_trial(run.id, 3, outcome.params)
    store.finish_trial(run.id, outcome, [_round(1, 10.0)])
    store.finish_trial(run.id, outcome, [_round(1, 10.0)])
    [trial] = store.trials(run.id)
    assert len(store.rounds(trial.id)) == 1


def test_runs_are_found_by_id_prefix_or_latest_name(database_url: str) -> None:
    store = Store(database_url)
    first = store.start_run(_spec("nightly"))
    second = store.start_run(_spec("nightly"))
    assert store.find_run(first.id[:8]).id == first.id
    assert store.find_run("nightly").id == second.id
    assert [r.id for r in store.runs()][:2] == [second.id, first.id]
    with pytest.raises(RunNotFound, match="no run with id or name 'nope'"):
        store.find_run("nope")


def test_the_database_password_is_masked_in_messages(postgres_url: str) -> None:
    url = postgres_url.replace("postgres@", "postgres:hunter2@")
    store = Store(url)
    assert "hunter2" not in store.safe_url
