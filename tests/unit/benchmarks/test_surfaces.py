"""Recorded response surfaces: export from the store, replay in place of an engine, and the efficiency script.

The rounds come from tests/data/surfaces/tiny-llama-1x4.csv, which `python -m benchmarks.surfaces.record` exported
from a real recording (vLLM CPU + genai-bench, see its .yaml). Runs built here put those real rounds into a real
store (SQLite and PostgreSQL); their failed trials are made up, since the recording had none.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from benchmarks.surfaces.record import export
from benchmarks.surfaces.record import main as record_main
from benchmarks.surfaces.replay import SearchStep, SurfaceGap, SurfaceReplay, replay_confirmation, replay_search
from benchmarks.surfaces.sample_efficiency import (
    load_inputs,
    markers,
    surface_facts,
    trials_to_reach,
    without_confirmation,
)
from benchmarks.surfaces.sample_efficiency import main as efficiency_main
from benchmarks.surfaces.surface import METRIC_COLUMNS, SurfaceError, config_key, read_surface, write_surface
from tests.support.factories import make_spec
from tests.support.paths import REPO
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.scoring import score
from tuning.search.study import FAILED_ATTR
from tuning.spec import ConfirmationSpec, ObjectiveSpec, StrategyName, TuningSpec
from tuning.spec.loading import load_spec
from tuning.store import Store

SURFACE = REPO / "tests" / "data" / "surfaces" / "tiny-llama-1x4.csv"


def _real_rounds() -> list[RoundMetrics]:
    surface = read_surface(SURFACE)
    return [r for m in surface.measurements.values() for r in m.rounds.values()]


def _spec(space: dict, **sections: object) -> TuningSpec:
    return make_spec("surface-test", search_space=space, **sections)


def _with(round_: RoundMetrics, **changes: object) -> RoundMetrics:
    return RoundMetrics.model_validate({**round_.model_dump(), **changes})


def _finish(store: Store, run_id: str, number: int, params: dict, state: TrialState, rounds: list, **extra) -> None:
    scored = score(rounds, _spec({}).objectives, []) if rounds else None
    store.start_trial(run_id, number, params)
    store.finish_trial(run_id, TrialOutcome(number=number, params=params, state=state, score=scored, **extra), rounds)


def _store_run(store: Store) -> tuple[Store, str, list[RoundMetrics]]:
    """A run at two levels: configurations benchmarked, failed, timed out, rejected, lost then measured on resume;
    with a repeat, a confirmation run and a trial still running."""
    base = _real_rounds()[:2]
    rounds = [_with(base[0], concurrency=4), _with(base[1], concurrency=16)]
    spec = _spec({"max-num-seqs": [1, 8], "enforce-eager": [True, False]}, benchmark={"concurrency": [4, 16]})
    run = store.start_run(spec)
    _finish(store, run.id, 0, {"max-num-seqs": 1, "enforce-eager": True}, TrialState.succeeded, rounds)
    _finish(
        store,
        run.id,
        1,
        {"max-num-seqs": 1, "enforce-eager": False},
        TrialState.failed,
        [],
        phase=Phase.ready,
        error="EngineExited: the engine exited with code 1\nTraceback (most recent call last): ...",
    )
    _finish(
        store,
        run.id,
        2,
        {"max-num-seqs": 8, "enforce-eager": True},
        TrialState.timed_out,
        [],
        error="TimeoutError: not ready after 300s",
    )
    _finish(store, run.id, 3, {"max-num-seqs": 1, "enforce-eager": True}, TrialState.repeated, [], error="as trial 0")
    # A trial whose process died, and the resumed run's measurement of the same configuration: the latter counts.
    lost = {"max-num-seqs": 8, "enforce-eager": False}
    _finish(store, run.id, 4, lost, TrialState.failed, [], error="abandoned: the process running it ended")
    _finish(store, run.id, 6, lost, TrialState.succeeded, rounds[::-1])
    store.start_trial(run.id, 7, {"max-num-seqs": 1, "enforce-eager": False})  # still running: measured nothing
    rejected = {"max-num-seqs": 16, "enforce-eager": True}
    _finish(store, run.id, 8, rejected, TrialState.rejected, [], error="rejected: needs 2 GPUs, 1 available")
    confirmation = [_with(r, output_throughput=r.output_throughput * 2) for r in rounds]
    store.start_trial(run.id, 5, {"max-num-seqs": 1, "enforce-eager": True}, confirms=0)
    store.finish_trial(
        run.id,
        TrialOutcome(
            number=5,
            params={"max-num-seqs": 1, "enforce-eager": True},
            state=TrialState.succeeded,
            score=score(confirmation, spec.objectives, []),
        ),
        confirmation,
    )
    return store, run.id, rounds


@pytest.fixture
def stored_run(tmp_path: Path) -> tuple[Store, str, list[RoundMetrics]]:
    return _store_run(Store(f"sqlite:///{tmp_path / 'servetune.db'}"))


def test_export_writes_each_configuration_once_with_its_stored_rounds_and_failures(
    database_url: str, tmp_path: Path
) -> None:
    store, run_id, rounds = _store_run(Store(database_url))
    out = tmp_path / "run.csv"
    summary = export(store, run_id, out)
    assert "5 configurations (3 failed)" in summary and "1 running" in summary

    with out.open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header[-len(METRIC_COLUMNS) :] == list(RoundMetrics.model_fields)
    surface = read_surface(out)
    assert surface.parameters == ["max-num-seqs", "enforce-eager"]
    assert len(surface) == 5
    resumed = surface.get({"max-num-seqs": 8, "enforce-eager": False})
    assert resumed is not None and (resumed.trial, resumed.state) == (6, "succeeded")
    measured = surface.get({"max-num-seqs": 1, "enforce-eager": True})
    assert measured is not None and measured.state == "succeeded" and measured.trial == 0
    # The original trial's rounds, exactly: not the confirmation's, and not twice.
    assert sorted(measured.rounds.values(), key=lambda r: r.concurrency) == rounds
    failed = surface.get({"max-num-seqs": 1, "enforce-eager": False})
    assert failed is not None and (failed.state, failed.rounds) == ("failed", {})
    assert failed.error == "EngineExited: the engine exited with code 1"
    timed_out = surface.get({"max-num-seqs": 8, "enforce-eager": True})
    assert timed_out is not None and timed_out.error == "timed_out: TimeoutError: not ready after 300s"
    rejected = surface.get({"max-num-seqs": 16, "enforce-eager": True})
    assert rejected is not None and rejected.error == "rejected: needs 2 GPUs, 1 available"
    # Types survive the CSV: a bool stays a bool and an int an int, so replayed configurations match the study's.
    assert surface.get({"max-num-seqs": 1, "enforce-eager": 1}) is None
    # The run's spec is written beside the surface, and it loads.
    assert load_spec(out.with_suffix(".yaml")).search_space["max-num-seqs"].values == [1, 8]


def test_export_cli_reads_the_store_servetune_uses(
    stored_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store, run_id, _ = stored_run
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", store.url)
    out = tmp_path / "cli.csv"
    assert record_main([run_id[:6], str(out)]) == 0
    assert len(read_surface(out)) == 5
    assert record_main(["no-such-run", str(tmp_path / "x.csv")]) == 1
    assert "no run with id or name 'no-such-run'" in capsys.readouterr().err


def test_a_malformed_surface_names_the_line_and_column(tmp_path: Path) -> None:
    lines = SURFACE.read_text().splitlines()
    broken = lines[1].split(",")
    broken[1] = "eight"  # the first parameter cell: not JSON
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], ",".join(broken)]) + "\n")
    with pytest.raises(SurfaceError, match=r"line 2, column param:max-num-seqs: 'eight' is not a JSON value"):
        read_surface(bad)


def test_replay_without_noise_serves_the_recorded_rounds() -> None:
    surface = read_surface(SURFACE)
    measurement = next(iter(surface.measurements.values()))
    (scenario, level), recorded = next(iter(measurement.rounds.items()))
    assert SurfaceReplay(surface).benchmark(measurement.params, scenario, level) == recorded
    with pytest.raises(SurfaceGap, match="no round"):
        SurfaceReplay(surface).benchmark(measurement.params, scenario, level + 1)


def test_noise_is_the_same_for_the_same_seed_changes_values_and_keeps_them_positive() -> None:
    surface = read_surface(SURFACE)
    measurement = next(iter(surface.measurements.values()))
    (scenario, level), recorded = next(iter(measurement.rounds.items()))

    def draws(seed: int) -> list[RoundMetrics]:
        replay = SurfaceReplay(surface, noise=0.5, seed=seed)
        return [replay.benchmark(measurement.params, scenario, level) for _ in range(50)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    for noisy in first:
        assert noisy.output_throughput != recorded.output_throughput
        for name, value in noisy.model_dump().items():
            if isinstance(value, float) and getattr(recorded, name) > 0:
                assert value > 0 and math.isfinite(value), name
        assert (noisy.error_rate, noisy.num_completed, noisy.scenario) == (
            recorded.error_rate,
            recorded.num_completed,
            recorded.scenario,
        )
    ratios = [n.output_throughput / recorded.output_throughput for n in first]
    assert min(ratios) < 0.8 and max(ratios) > 1.25  # a 50% spread, around the recorded value
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        SurfaceReplay(surface, noise=-0.1)


def test_a_replayed_trial_stops_at_the_first_level_that_breaks_a_hard_slo(stored_run, tmp_path: Path) -> None:
    store, run_id, rounds = stored_run
    out = tmp_path / "run.csv"
    export(store, run_id, out)
    worst_ttft = max(r.ttft_p90 for r in rounds)
    first_ttft = rounds[0].ttft_p90
    params = {"max-num-seqs": 1, "enforce-eager": True}
    space = {"max-num-seqs": [1], "enforce-eager": [True]}
    strict = _spec(space, benchmark={"concurrency": [4, 16]}, slos=[{"metric": "ttft", "max": first_ttft / 2}])
    stopped = SurfaceReplay(read_surface(out)).trial(strict, params)
    assert [r.concurrency for r in stopped.rounds] == [4]
    assert stopped.stopped_early and stopped.score is not None and not stopped.score.feasible
    loose = _spec(space, benchmark={"concurrency": [4, 16]}, slos=[{"metric": "ttft", "max": worst_ttft * 2}])
    full = SurfaceReplay(read_surface(out)).trial(loose, params)
    assert [r.concurrency for r in full.rounds] == [4, 16]
    assert full.score is not None and full.score.feasible and full.stopped_early is None


@pytest.mark.parametrize("strategy", [StrategyName.grid, StrategyName.tpe])
def test_a_replayed_search_teaches_the_study_its_failures_and_scores_as_servetune_does(
    stored_run, tmp_path: Path, strategy: StrategyName
) -> None:
    store, run_id, rounds = stored_run
    out = tmp_path / "run.csv"
    export(store, run_id, out)
    surface = read_surface(out)
    spec = _spec({"max-num-seqs": [1, 8], "enforce-eager": [True]}, benchmark={"concurrency": [4, 16]})
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    steps = list(replay_search(spec, SurfaceReplay(surface), strategy, 0, 6, "replayed", storage))
    study = optuna.load_study(study_name="replayed", storage=storage)
    by_number = {t.number: t for t in study.trials}
    expected = score(rounds, spec.objectives, spec.slos).value
    assert {s.params["max-num-seqs"] for s in steps} == {1, 8}
    for step in steps:
        told = by_number[step.number]
        if step.params["max-num-seqs"] == 8:  # recorded as timed out: taught as infeasible, never as a score
            assert step.failed and step.value is None and FAILED_ATTR in told.user_attrs
        else:
            assert not step.failed and told.state is optuna.trial.TrialState.COMPLETE
            assert told.value == pytest.approx(expected)
    assert sum(not s.repeat for s in steps if s.params["max-num-seqs"] == 1) == 1  # measured once, then reused


def test_the_same_seed_replays_the_same_search() -> None:
    spec = load_inputs(SURFACE, None, "none")

    def search(seed: int) -> list[tuple]:
        replay = SurfaceReplay(read_surface(SURFACE), noise=0.05, seed=seed)
        return [(s.params, s.value) for s in replay_search(spec, replay, StrategyName.tpe, seed, 8)]

    assert search(3) == search(3)
    assert search(3) != search(4)


def test_surface_facts_find_the_best_feasible_configuration() -> None:
    spec = load_inputs(SURFACE, None, "none")
    surface = read_surface(SURFACE)
    facts = surface_facts(spec, SurfaceReplay(surface))
    throughputs = {m.trial: next(iter(m.rounds.values())).output_throughput for m in surface.measurements.values()}
    assert facts.configurations == len(surface) == 4
    assert facts.best == pytest.approx(max(throughputs.values()))
    assert 1 <= len(facts.good) <= facts.feasible == 4


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.surfaces.sample_efficiency", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_efficiency_script_prints_the_surface_and_a_row_per_strategy(tmp_path: Path) -> None:
    doc = tmp_path / "efficiency.md"
    start, end = markers("no-slos")
    doc.write_text(f"# Notes kept\n\n{start}\nold numbers\n{end}\n\nafter\n")
    args = ["--seeds", "3", "--strategies", "grid", "random", "tpe", "--slos", "none"]
    done = _run_script(str(SURFACE), *args, "--markdown", str(doc), "--section", "no-slos")
    assert done.returncode == 0, done.stderr
    assert "Surface tiny-llama-1x4.csv: 4 configurations, 0 failed, 4 feasible" in done.stdout
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    assert {"grid", "random", "tpe"} <= set(rows)
    assert "Target: " in done.stdout
    text = doc.read_text()
    assert text.startswith("# Notes kept") and text.endswith("after\n") and "old numbers" not in text
    assert rows["tpe"] in text


def test_the_efficiency_script_names_what_is_wrong_with_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lonely = tmp_path / "lonely.csv"
    lonely.write_text(SURFACE.read_text())
    assert efficiency_main([str(lonely), "--seeds", "1"]) == 2
    error = capsys.readouterr().err
    assert "--spec: no spec given and" in error and "lonely.yaml" in error
    bad_slos = tmp_path / "slos.yaml"
    bad_slos.write_text("- metric: ttft\n  max: -1\n")
    assert efficiency_main([str(SURFACE), "--slos", str(bad_slos)]) == 2
    assert "max: Input should be greater than or equal to 0 (given: -1)" in capsys.readouterr().err
    wider = tmp_path / "wider.yaml"
    recorded = yaml.safe_load(SURFACE.with_suffix(".yaml").read_text())
    recorded["search_space"]["max-num-batched-tokens"].append(4096)
    wider.write_text(yaml.safe_dump(recorded, sort_keys=False))
    assert efficiency_main([str(SURFACE), "--spec", str(wider), "--slos", "none"]) == 2
    error = capsys.readouterr().err
    assert "has no configuration {'max-num-seqs': 1, 'max-num-batched-tokens': 4096}" in error
    assert "the spec's grid has 5 configurations, the surface 4" in error
    with pytest.raises(SystemExit):
        efficiency_main([str(SURFACE), "--noise", "-1"])
    assert "--noise must be a finite number >= 0" in capsys.readouterr().err


def test_a_grid_reaches_the_optimum_at_the_trial_that_runs_it() -> None:
    recorded = load_inputs(SURFACE, None, "none")
    tokens = recorded.search_space["max-num-batched-tokens"].values
    assert tokens is not None
    surface = read_surface(SURFACE)
    facts = surface_facts(recorded, SurfaceReplay(surface))
    [best] = [m.params for m in surface.measurements.values() if config_key(m.params) in facts.good]
    for order in (tokens, tokens[::-1]):
        space = {**recorded.search_space, "max-num-batched-tokens": {"values": order}}
        spec = TuningSpec.model_validate({**recorded.model_dump(), "search_space": space})
        position = order.index(best["max-num-batched-tokens"]) + 1
        assert trials_to_reach(spec, facts, SurfaceReplay(surface), StrategyName.grid, 0) == position


@pytest.mark.parametrize("strategy", [StrategyName.grid, StrategyName.nsga2])
def test_a_multi_objective_spec_replays_and_the_study_is_told_a_value_per_objective(
    tmp_path: Path, strategy: StrategyName
) -> None:
    recorded = load_inputs(SURFACE, None, "none").model_dump(mode="json", exclude={"objective"})
    objectives = [{"metric": "output_throughput"}, {"metric": "ttft", "statistic": "p90"}]
    spec = TuningSpec.model_validate({**recorded, "objectives": objectives})
    surface = read_surface(SURFACE)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    steps = list(replay_search(spec, SurfaceReplay(surface), strategy, 0, len(surface), "pareto", storage))
    study = optuna.load_study(study_name="pareto", storage=storage)
    assert len(study.directions) == 2
    told = {t.number: t for t in study.trials}
    measured = [s for s in steps if not s.repeat]
    assert measured and not any(s.failed for s in measured)
    for step in measured:
        rounds = list(surface.get(step.params).rounds.values())  # type: ignore[union-attr]
        expected = score(rounds, spec.objectives, spec.slos, ranks=spec.objective)
        assert told[step.number].values == pytest.approx(expected.objective_scores)
        assert step.objective_scores == pytest.approx(expected.objective_scores)
        assert step.value == pytest.approx(expected.value)


def test_a_surface_without_a_gpus_column_replays_one_gpu_and_one_with_it_divides_by_its_count(tmp_path: Path) -> None:
    surface = read_surface(SURFACE)
    spec = load_inputs(SURFACE, None, "none").model_copy(
        update={"objectives": [ObjectiveSpec(metric="output_throughput_per_gpu")]}
    )
    params = next(iter(surface.measurements.values())).params
    one = SurfaceReplay(surface).trial(spec, params).score
    for measurement in surface.measurements.values():
        measurement.gpus = 4
    out = tmp_path / "four-gpus.csv"
    with out.open("w", newline="") as handle:
        write_surface(handle, surface.parameters, surface.measurements.values())
    four = SurfaceReplay(read_surface(out)).trial(spec, params).score
    assert one is not None and four is not None
    assert four.value == pytest.approx(one.value / 4)


def _measured(spec: TuningSpec, replay: SurfaceReplay, params: dict, number: int, value: float | None = None):
    """A search trial as the replayed search yields it; ``value`` overrides the measured score (a lucky run)."""
    score = replay.trial(spec, params).score
    assert score is not None
    measured = score.value if value is None else value
    return SearchStep(number, params, TrialState.succeeded, measured, score.feasible, [measured], [])


def test_a_replayed_run_confirms_its_leaders_and_reports_the_best_mean_as_a_real_run_does() -> None:
    recorded = load_inputs(SURFACE, None, "none")
    surface = read_surface(SURFACE)
    replay = SurfaceReplay(surface)  # no noise: a confirmation run measures what the surface recorded
    ranked = sorted(
        (m.params for m in surface.measurements.values()),
        key=lambda p: replay.trial(recorded, p).score.value,  # type: ignore[union-attr]
    )
    worst, best = ranked[0], ranked[-1]
    true_best = replay.trial(recorded, best).score.value  # type: ignore[union-attr]
    true_worst = replay.trial(recorded, worst).score.value  # type: ignore[union-attr]
    lucky = true_best + (true_best - true_worst) / 2  # one measurement of the worst configuration came out on top
    measured = [_measured(recorded, replay, p, n, lucky if p == worst else None) for n, p in enumerate(ranked)]

    unconfirmed = replay_confirmation(without_confirmation(recorded), replay, measured)
    assert unconfirmed.runs == [] and unconfirmed.best is not None and unconfirmed.best.params == worst

    two = recorded.model_copy(update={"confirmation": ConfirmationSpec(top=2, repeats=1)})
    confirmed = replay_confirmation(two, replay, measured)
    assert [run.confirms for run in confirmed.runs] == [0, len(ranked) - 1]  # the two leaders, lucky one first
    assert [run.number for run in confirmed.runs] == [len(ranked), len(ranked) + 1]
    assert confirmed.best is not None and confirmed.best.params == best


def test_the_trials_to_reach_the_optimum_count_the_confirmation_runs_a_user_would_pay_for() -> None:
    recorded = load_inputs(SURFACE, None, "none")
    surface = read_surface(SURFACE)
    facts = surface_facts(recorded, SurfaceReplay(surface))
    alone = trials_to_reach(without_confirmation(recorded), facts, SurfaceReplay(surface), StrategyName.grid, 0)
    for top in (1, 3):
        spec = recorded.model_copy(update={"confirmation": ConfirmationSpec(top=top, repeats=2)})
        confirmed = trials_to_reach(spec, facts, SurfaceReplay(surface), StrategyName.grid, 0)
        # Without noise the same configuration wins; reaching it costs each leader's two more runs.
        assert confirmed == alone + 2 * min(top, alone)
