"""`servetune show RUN --json`: the stored run, trials and rounds, for scripts; its docs come from the models."""

from __future__ import annotations

import json

import pytest

from tests.support.factories import make_spec, round_metrics
from tests.support.paths import REPO
from tuning.cli import main
from tuning.evaluation.outcome import Phase, RunState, TrialOutcome, TrialState
from tuning.evaluation.scoring import score
from tuning.report.export import reference_markdown
from tuning.store import Store


def _recorded_run(store: Store) -> str:
    spec = make_spec("export-test", slos=[{"metric": "ttft", "statistic": "p90", "max": 0.5, "hard": True}])
    run = store.start_run(spec)
    measured = [round_metrics(concurrency=c, throughput=40.0 * c, duration=9.0, ttft_p90=0.1 * c) for c in (1, 2)]
    store.start_trial(run.id, 0, {"max-num-seqs": 2})
    timings = {"deploy": 2.0, "ready": 30.0, "benchmark": 25.0, "cleanup": 1.0, "total": 58.0}
    outcome = TrialOutcome(
        number=0,
        params={"max-num-seqs": 2},
        state=TrialState.succeeded,
        score=score(measured, spec.objectives, spec.slos, 1),
        timings=timings,
        command=["python", "-m", "vllm.entrypoints.openai.api_server", "--max-num-seqs", "2"],
    )
    store.finish_trial(run.id, outcome, measured)
    store.start_trial(run.id, 1, {"max-num-seqs": 4})
    failed = TrialOutcome(
        number=1,
        params={"max-num-seqs": 4},
        state=TrialState.failed,
        phase=Phase.ready,
        error="engine exited with code 1",
        timings={"deploy": 2.0, "ready": 4.0, "cleanup": 0.5, "total": 7.0},
    )
    store.finish_trial(run.id, failed, [])
    store.finish_run(run.id, RunState.completed, "best: trial 0", 0)
    return run.id


def test_show_json_gives_the_run_its_trials_their_phase_times_and_every_metric_of_every_round(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    run_id = _recorded_run(Store(database_url))

    assert main(["show", "export-test", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)

    assert document["schema_version"] == 1
    assert (document["run"]["id"], document["run"]["state"], document["run"]["best_trial"]) == (run_id, "completed", 0)
    assert document["run"]["spec"]["slos"][0]["max"] == 0.5
    best, failed = document["trials"]
    assert (best["number"], best["state"], best["feasible"], best["params"]) == (
        0,
        "succeeded",
        True,
        {"max-num-seqs": 2},
    )
    assert best["score"] == pytest.approx(60.0)  # mean output throughput of the two rounds: 40 and 80 tokens/s
    assert [best[f"{p}_seconds"] for p in ("deploy", "ready", "benchmark", "cleanup", "total")] == [2, 30, 25, 1, 58]
    assert [(r["concurrency"], r["duration"], r["ttft_p90"]) for r in best["rounds"]] == [(1, 9.0, 0.1), (2, 9.0, 0.2)]
    assert set(best["rounds"][0]) == set(round_metrics().model_dump())  # every metric, no row ids
    assert best["overhead"] == pytest.approx(58.0 / (30.0 + 18.0))
    assert (failed["state"], failed["phase"], failed["error"], failed["rounds"], failed["overhead"]) == (
        "failed",
        "ready",
        "engine exited with code 1",
        [],
        None,
    )


def test_show_json_of_an_unknown_run_exits_3_with_a_message_not_json(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    assert main(["show", "no-such-run", "--json"]) == 3
    out, err = capsys.readouterr()
    assert out == "" and "no-such-run" in err


def test_the_json_reference_in_the_docs_is_the_one_the_models_give() -> None:
    docs = (REPO / "docs" / "results-json.md").read_text()
    assert reference_markdown() in docs, "regenerate the tables of docs/results-json.md from reference_markdown()"


def test_the_overhead_benchmark_prints_each_measured_trials_phases_and_the_median_ratio(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.overhead import main as overhead

    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    _recorded_run(Store(database_url))

    assert overhead(["export-test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"median overhead over 1 trials: {58.0 / 48.0:.2f}"  # the failed trial measured nothing
    assert "18.0" in next(line for line in lines if line.strip().startswith("0 "))  # its requests' own seconds
