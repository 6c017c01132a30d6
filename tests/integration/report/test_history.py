"""A target's history and the regression verdict, on SQLite and a real PostgreSQL.

Runs are written with the Store API, as the `tune` and `regression` flows write them; the flows themselves
run for real in tests/test_e2e_regression.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from flows import NothingToRecheck, regression
from tests.support.factories import make_spec, round_metrics
from tuning.cli import main
from tuning.errors import ExitCode
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.scoring import Score, SLOViolation
from tuning.report.history import UnknownTarget, judge, target_history
from tuning.spec import TuningSpec
from tuning.spec.loading import SpecError, spec_from_data
from tuning.store import RunKind, Store, migrations

PARAMS = [{"max-num-seqs": 2}, {"max-num-seqs": 4}, {"max-num-seqs": 8}]
ERROR_SLO = SLOViolation(slo="error_rate <= 0", scenario="D(40,16)", concurrency=2, observed=0.5, limit=0.0, hard=True)


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() sets a few variables with os.environ.setdefault; put the environment back afterwards.
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)


def _spec(name: str = "nightly", objective: str = "output_throughput", **regression: Any) -> TuningSpec:
    return make_spec(name, model={"path": "/models/tiny"}, objective=objective, regression=regression)


def _round(throughput: float) -> RoundMetrics:
    return round_metrics("D(40,16)", concurrency=2, throughput=throughput, num_completed=6)


def _measure(
    store: Store,
    run_id: str,
    number: int,
    params: dict,
    value: float | None,
    maximize: bool,
    feasible: bool = True,
    confirms: int | None = None,
) -> None:
    store.start_trial(run_id, number, params, confirms)
    if value is None:
        outcome = TrialOutcome(
            number=number, params=params, state=TrialState.failed, phase=Phase.ready, error="TimeoutError: not ready"
        )
        store.finish_trial(run_id, outcome, [])
        return
    score = Score(
        value=value,
        objective_value=value,
        penalty=0.0,
        feasible=feasible,
        maximize=maximize,
        violations=[] if feasible else [ERROR_SLO],
    )
    store.finish_trial(
        run_id, TrialOutcome(number=number, params=params, state=TrialState.succeeded, score=score), [_round(value)]
    )


def _tuned(store: Store, spec: TuningSpec, scores: list[float], confirmations: list[float] = ()) -> str:
    """A completed tuning run: one trial per score, the best one confirmed by ``confirmations``."""
    maximize = spec.objective.maximize
    run = store.start_run(spec)
    for number, value in enumerate(scores):
        _measure(store, run.id, number, PARAMS[number], value, maximize)
    best = scores.index(max(scores) if maximize else min(scores))
    for offset, value in enumerate(confirmations):
        _measure(store, run.id, len(scores) + offset, PARAMS[best], value, maximize, confirms=best)
    store.finish_run(run.id, "completed", f"best: trial {best}", best)
    return run.id


def _recheck(store: Store, spec: TuningSpec, value: float | None, feasible: bool = True) -> str:
    run = store.start_run(spec, kind=RunKind.recheck)
    _measure(store, run.id, 0, PARAMS[1], value, spec.objective.maximize, feasible, confirms=1)
    entry = next(e for e in target_history(store, spec.name) if e.run_id == run.id)
    verdict = judge(spec.name, entry)
    state = "regressed" if verdict.regressed else "completed"
    store.finish_run(run.id, state, verdict.message, 0 if feasible else None)
    return run.id


def test_history_lists_tuning_runs_and_rechecks_oldest_first_each_against_its_baseline(database_url: str) -> None:
    store = Store(database_url)
    spec = _spec()
    first = _tuned(store, spec, [100.0, 200.0, 150.0], confirmations=[180.0])
    ok = _recheck(store, spec, 185.0)
    second = _tuned(store, spec, [90.0, 300.0])
    dropped = _recheck(store, spec, 150.0)
    _tuned(store, _spec("other"), [1.0])  # another target's runs stay out

    history = target_history(store, "nightly")

    assert [(e.run_id, e.kind, e.state) for e in history] == [
        (first, RunKind.tune, "completed"),
        (ok, RunKind.recheck, "completed"),
        (second, RunKind.tune, "completed"),
        (dropped, RunKind.recheck, "regressed"),
    ]
    # A tuning run's score is its best configuration's mean over the trial and its confirmations.
    assert (history[0].params, history[0].score, history[0].measurements) == ({"max-num-seqs": 4}, 190.0, 2)
    assert history[0].baseline is None and history[0].change is None
    assert history[1].baseline.value == 190.0 and history[1].change == pytest.approx(-5 / 190)
    # A new tuning run becomes the baseline for the rechecks after it.
    assert history[2].baseline.value == 190.0 and history[3].baseline.value == 300.0
    assert history[3].change == pytest.approx(-0.5) and history[3].worse_by == pytest.approx(0.5)


def test_a_throughput_drop_beyond_the_threshold_is_a_regression_that_names_everything(database_url: str) -> None:
    store = Store(database_url)
    spec = _spec(threshold=0.1)
    tuned = _tuned(store, spec, [100.0, 200.0])
    recheck = _recheck(store, spec, 170.0)

    verdict = judge("nightly", target_history(store, "nightly")[-1])

    assert verdict.regressed
    for part in ("nightly", "max-num-seqs=4", "200", f"run {tuned}", "170", f"recheck run {recheck}", "-15.0%"):
        assert part in verdict.message
    assert "beyond the 10.0% threshold" in verdict.message


def test_a_throughput_drop_within_the_threshold_holds(database_url: str) -> None:
    store = Store(database_url)
    spec = _spec(threshold=0.1)
    _tuned(store, spec, [100.0, 200.0])
    _recheck(store, spec, 185.0)

    verdict = judge("nightly", target_history(store, "nightly")[-1])

    assert not verdict.regressed
    assert "-7.5%, within the 10.0% threshold" in verdict.message


@pytest.mark.parametrize(("recheck_value", "regressed"), [(0.6, True), (0.4, False)])
def test_for_a_latency_objective_a_rise_is_the_regression(
    database_url: str, recheck_value: float, regressed: bool
) -> None:
    store = Store(database_url)
    spec = _spec(objective="ttft", threshold=0.1)
    _tuned(store, spec, [0.9, 0.5])  # the lower latency, 0.5, is the best
    _recheck(store, spec, recheck_value)

    [tuned, recheck] = target_history(store, "nightly")
    verdict = judge("nightly", recheck)

    assert tuned.score == 0.5
    assert verdict.regressed is regressed
    assert ("+20.0%, beyond the 10.0%" if regressed else "-20.0%, no worse than the baseline") in verdict.message
    assert recheck.note == ("beyond the 10.0% threshold" if regressed else "no worse than the baseline")


def test_an_infeasible_recheck_is_a_regression_even_when_it_scores_higher(database_url: str) -> None:
    store = Store(database_url)
    spec = _spec()
    _tuned(store, spec, [100.0, 200.0])
    _recheck(store, spec, 400.0, feasible=False)

    recheck = target_history(store, "nightly")[-1]
    verdict = judge("nightly", recheck)

    assert verdict.regressed and recheck.state == "regressed"
    assert "breaks a hard SLO: error_rate <= 0 at D(40,16) x2 (observed 0.5)" in verdict.message


def test_a_recheck_whose_trial_failed_is_a_regression(database_url: str) -> None:
    store = Store(database_url)
    spec = _spec()
    _tuned(store, spec, [100.0, 200.0])
    _recheck(store, spec, None, feasible=False)

    recheck = target_history(store, "nightly")[-1]
    verdict = judge("nightly", recheck)

    assert verdict.regressed and recheck.score is None
    assert "failed in ready: TimeoutError: not ready" in verdict.message


@pytest.mark.parametrize(("baseline", "expected"), [("best", 200.0), ("last", 150.0), ("median", 160.0)])
def test_the_baseline_follows_the_spec(database_url: str, baseline: str, expected: float) -> None:
    store = Store(database_url)
    spec = _spec(baseline=baseline, window=3, threshold=0.5)
    _tuned(store, spec, [100.0, 200.0])
    for value in (210.0, 190.0, 160.0, 170.0, 150.0):  # median of the last three: 160
        _recheck(store, spec, value)
    _recheck(store, spec, 10.0, feasible=False)  # a recheck that broke a hard SLO is no baseline

    history = target_history(store, "nightly")
    assert history[-1].baseline.value == expected
    assert history[-1].baseline.source.startswith(baseline)


def test_resuming_a_run_name_ignores_its_rechecks(database_url: str) -> None:
    store = Store(database_url)
    spec = _spec()
    _tuned(store, spec, [100.0, 200.0])
    interrupted = store.start_run(spec, kind=RunKind.recheck)
    store.finish_run(interrupted.id, "interrupted", "interrupted", None)
    assert store.resumable_run("nightly") is None  # the completed tuning run stands

    unfinished = store.start_run(spec)
    store.start_run(spec, kind=RunKind.recheck)
    assert store.resumable_run("nightly").id == unfinished.id


def test_a_database_from_before_run_kinds_gets_the_column_and_its_runs_are_tuning_runs(database_url: str) -> None:
    older = sqlalchemy.create_engine(database_url)
    migrations.upgrade(older, migrations.FIRST_REVISION)  # release 0.1.0's tables, then as a build before it
    with older.begin() as connection:
        connection.execute(sqlalchemy.text(f"DROP TABLE {migrations.VERSION_TABLE}"))
        connection.execute(sqlalchemy.text("ALTER TABLE tuning_run DROP COLUMN kind"))
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO tuning_run (id, name, state, engine, model, objective, maximize, spec) "
                "VALUES ('old1', 'nightly', 'completed', 'vllm', 'tiny', 'output_throughput (tok/s)', true, '{}')"
            )
        )
    older.dispose()

    store = Store(database_url)

    [run] = store.runs()
    assert (run.id, run.kind) == ("old1", "tune")
    assert [e.kind for e in target_history(store, "nightly")] == [RunKind.tune]


@pytest.mark.parametrize(
    ("regression", "expected"),
    [
        ({"threshold": -0.1}, "regression.threshold: Input should be greater than or equal to 0 (given: -0.1)"),
        ({"threshold": 1.5}, "regression.threshold: 1.5 can never be reached, as output_throughput (tok/s) cannot"),
        ({"baseline": "mean"}, "regression.baseline: Input should be 'best', 'last' or 'median' (given: 'mean')"),
        ({"window": 0}, "regression.window: Input should be greater than 0"),
        ({"treshold": 0.1}, "regression.treshold: unknown field"),
    ],
)
def test_a_bad_regression_section_is_rejected_naming_the_field(regression: dict, expected: str) -> None:
    data = {"name": "nightly", "model": {"path": "/m"}, "regression": regression}
    with pytest.raises(SpecError) as caught:
        spec_from_data(data)
    assert expected in str(caught.value)


def test_a_latency_may_regress_by_more_than_100_percent() -> None:
    spec = spec_from_data({"name": "n", "model": {"path": "/m"}, "objective": "ttft", "regression": {"threshold": 1.5}})
    assert spec.regression.threshold == 1.5


def test_the_history_command_prints_the_table(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    store = Store(database_url)
    spec = _spec()
    first = _tuned(store, spec, [100.0, 200.0])
    recheck = _recheck(store, spec, 150.0)

    assert main(["history", "nightly", "--wide"]) == ExitCode.ok
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "nightly: 2 run(s), the latest 2 shown; objective output_throughput (tok/s)"
    assert lines[1].split() == ["date", "run", "kind", "state", "configuration", "score", "baseline", "change", "note"]
    assert lines[3].split()[2:6] == [first, "tune", "completed", "max-num-seqs=4"]
    recheck_row = [recheck, "recheck", "regressed", "max-num-seqs=4", "150", "200", "-25.0%", "(worse)"]
    assert lines[4].split()[2:10] == recheck_row and lines[4].rstrip().endswith("beyond the 5.0% threshold")

    assert main(["history", "nightly", "--limit", "1"]) == ExitCode.ok
    out = capsys.readouterr().out
    assert recheck in out and first not in out

    assert main(["runs"]) == ExitCode.ok
    runs = capsys.readouterr().out.splitlines()
    assert runs[0].split()[:4] == ["run", "name", "kind", "state"]
    assert {tuple(line.split()[1:3]) for line in runs[2:]} == {("nightly", "tune"), ("nightly", "recheck")}


def test_the_history_of_an_unknown_target_names_it_and_the_known_ones(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    store = Store(database_url)
    _tuned(store, _spec("nightly"), [1.0])
    _tuned(store, _spec("quickstart"), [1.0])

    assert main(["history", "nightlly"]) == ExitCode.not_found
    err = capsys.readouterr().err
    assert "no tuning target named 'nightlly'" in err and "known targets: nightly, quickstart" in err
    with pytest.raises(UnknownTarget):
        target_history(store, "nightlly")


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_history_limit_must_be_a_positive_number(limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["history", "nightly", "--limit", limit])
    assert exited.value.code == 2
    assert f"{limit!r} is not a positive whole number" in capsys.readouterr().err


def test_the_flow_fails_naming_the_target_when_there_is_nothing_to_recheck(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'servetune.db'}"
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", url)
    store = Store(url)
    _tuned(store, _spec("quickstart"), [1.0])
    nothing = store.start_run(_spec("infeasible"))
    store.finish_run(nothing.id, "completed", "1 trial(s) succeeded but none met every hard SLO", None)

    unknown = regression("quickstrat", return_state=True)
    no_best = regression("infeasible", return_state=True)

    assert unknown.is_failed() and no_best.is_failed()
    with pytest.raises(UnknownTarget, match=r"'quickstrat'.*known targets: infeasible, quickstart"):
        unknown.result()
    with pytest.raises(NothingToRecheck, match=rf"'infeasible' has no best configuration.*run {nothing.id} found none"):
        no_best.result()
    assert {run.kind for run in store.runs()} == {"tune"}  # no recheck was started


def test_show_by_name_means_the_latest_tuning_run_not_the_nightly_recheck_after_it(database_url: str) -> None:
    from tuning.spec import TuningSpec
    from tuning.store import RunKind, Store

    store = Store(database_url)
    spec = TuningSpec.model_validate({"name": "by-name", "model": {"path": "/m"}})
    tuned = store.start_run(spec)
    recheck = store.start_run(spec, kind=RunKind.recheck)
    assert store.find_run("by-name").id == tuned.id
    assert store.find_run(recheck.id).id == recheck.id
