"""The nightly recheck for real: vLLM CPU, genai-bench, Prefect and PostgreSQL, one real trial."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows import RegressionDetected, regression
from tests.support.real_runs import real_engine_spec
from tuning.evaluation.outcome import TrialOutcome, TrialState
from tuning.evaluation.scoring import Score
from tuning.report.history import target_history
from tuning.runtime import process_group
from tuning.store import RunKind, Store

pytestmark = pytest.mark.e2e

CLAIMED = 1_000_000.0  # tokens/s: far beyond what a tiny model on this CPU can serve


def test_a_best_configuration_that_no_longer_scores_its_stored_best_fails_the_nightly_run(
    prefect_server: None, postgres_url: str, tiny_model: Path, engine_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", postgres_url)
    spec = real_engine_spec("e2e-nightly", tiny_model, engine_venv, search_space={"max-num-seqs": [2]})
    store = Store(postgres_url)
    # The target's history: a completed tuning run whose best trial claims a score this machine cannot reach.
    tuned = store.start_run(spec)
    params = {"max-num-seqs": 2}
    store.start_trial(tuned.id, 0, params)
    claimed = Score(value=CLAIMED, objective_value=CLAIMED, penalty=0.0, feasible=True, maximize=True, violations=[])
    store.finish_trial(tuned.id, TrialOutcome(number=0, params=params, state=TrialState.succeeded, score=claimed), [])
    store.finish_run(tuned.id, "completed", "best: trial 0", 0)

    state = regression("e2e-nightly", return_state=True)

    assert state.is_failed()
    with pytest.raises(RegressionDetected) as caught:
        state.result()
    message = str(caught.value)
    [_, recheck] = target_history(store, "e2e-nightly")
    assert (recheck.kind, recheck.state, recheck.params) == (RunKind.recheck, "regressed", params)
    change = (recheck.score - CLAIMED) / CLAIMED
    for part in (
        "e2e-nightly regressed: configuration max-num-seqs=2",
        f"measured output_throughput (tok/s) {recheck.score:.6g} in recheck run {recheck.run_id}",
        f"baseline output_throughput (tok/s) 1e+06 (best: run {tuned.id} trial 0",
        f"a change of {change:+.1%}, beyond the 5.0% threshold",
    ):
        assert part in message
    # The recheck is stored like any trial: a real measurement, with its rounds and engine command.
    [measured] = store.trials(recheck.run_id)
    assert (measured.state, measured.feasible, measured.confirms) == ("succeeded", True, 0)
    assert 0 < (measured.score or 0) < CLAIMED / 10
    assert "--max-num-seqs" in measured.command
    [round_] = store.rounds(measured.id)
    assert (round_.scenario, round_.concurrency, round_.num_failed) == ("D(40,16)", 2, 0)
    assert store.resumable_run("e2e-nightly") is None  # a recheck is never resumed as a tuning run
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(store.find_run(recheck.run_id).prefect_flow_run_id)
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["e2e-nightly-regression"]))
        )
    assert flow_run.state.is_failed() and flow_run.name == "regression-e2e-nightly"
    assert "# Recheck of `e2e-nightly`: regression" in artifact.data and message in artifact.data
    assert process_group.labelled(f"servetune/{recheck.run_id}/") == {}
