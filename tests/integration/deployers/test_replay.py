"""The replay deployer through the real `tune` and `trial` flows (real Prefect, Optuna and store): a recorded
surface serves as engine and benchmark, and a run ends as the surface says it would, with every artifact of a
real run. What each configuration should come to is computed here from the surface file, with the sample-efficiency
script's own replay (``benchmarks.surfaces.replay``), never written down."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client

from benchmarks.surfaces.replay import SurfaceReplay
from tests.support.paths import REPO
from tuning.cli import main
from tuning.evaluation.outcome import Phase, TrialState
from tuning.evaluation.surface import read_surface, write_surface
from tuning.spec.loading import load_spec
from tuning.store import Store

DEMO = REPO / "examples" / "replay-demo.yaml"
RECORDED = REPO / "benchmarks" / "surfaces" / "data" / "tiny-llama-vllm-cpu-48.csv"

# Configurations the test's copy of the surface records as failed, each as a real engine fails: (error recorded,
# state and phase servetune records when it is replayed).
FAILURES: dict[tuple[int, int], tuple[str, TrialState, Phase]] = {
    (12, 64): ("EngineExited: the engine stopped before it was ready", TrialState.failed, Phase.ready),
    (16, 1024): ("timed_out: ReadyTimeout: the engine was not ready after 300s", TrialState.timed_out, Phase.ready),
    (24, 1024): ("rejected: vLLM refuses these flags", TrialState.failed, Phase.deploy),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SERVETUNE_HOME", str(home))
    monkeypatch.delenv("SERVETUNE_DATABASE_URL", raising=False)
    return home


def _with_failures(folder: Path) -> Path:
    """The recorded surface with the configurations of ``FAILURES`` turned into failed ones."""
    surface = read_surface(RECORDED)
    for measurement in surface.measurements.values():
        key = (int(measurement.params["max-num-seqs"]), int(measurement.params["max-num-batched-tokens"]))
        if key in FAILURES:
            measurement.state, measurement.error, measurement.rounds = TrialState.failed, FAILURES[key][0], {}
    path = folder / "surface-with-failures.csv"
    with path.open("w", encoding="utf-8") as out:
        write_surface(out, surface.parameters, surface.measurements.values())
    return path


def _write_spec(folder: Path, **changes: Any) -> Path:
    """The demo spec, measuring what the 48-configuration surface recorded (one level), with ``changes``."""
    data = yaml.safe_load(DEMO.read_text())
    data["benchmark"]["concurrency"] = [16]
    data["deployer"] |= changes.pop("deployer", {})
    data |= changes
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_replayed_trials_end_as_the_surface_recorded_and_the_best_is_the_surface_best_feasible(
    prefect_server: None, home: Path, tmp_path: Path
) -> None:
    surface_file = _with_failures(tmp_path)
    space = {"max-num-seqs": [12, 16, 24, 32], "max-num-batched-tokens": [64, 512, 1024]}
    spec_file = _write_spec(
        tmp_path,
        name="replay-grid",
        deployer={"surface": str(surface_file), "noise": 0.0, "ready_seconds": 0.05},
        search_space=space,
        strategy={"name": "grid", "parallelism": 2},
        confirmation={"top": 0},
    )
    spec = load_spec(spec_file)
    replay = SurfaceReplay(read_surface(surface_file))
    expected = {(p["max-num-seqs"], p["max-num-batched-tokens"]): replay.trial(spec, p) for p in _grid(space)}
    feasible = {k: t.score.value for k, t in expected.items() if t.score is not None and t.score.feasible}
    assert feasible and any(t.score and not t.score.feasible for t in expected.values())  # the test means something

    code = main(["tune", str(spec_file)])

    store = Store()
    run = store.find_run("replay-grid")
    trials = store.trials(run.id)
    assert code == 0 and run.state == "completed", run.message
    assert sorted((t.params["max-num-seqs"], t.params["max-num-batched-tokens"]) for t in trials) == sorted(expected)
    for trial in trials:
        key = (trial.params["max-num-seqs"], trial.params["max-num-batched-tokens"])
        if key in FAILURES:
            error, state, phase = FAILURES[key]
            assert (trial.state, trial.phase) == (state.value, phase.value), trial.error
            assert error.split(": ")[-1] in (trial.error or "") + (trial.log_tail or "")
            assert store.rounds(trial.id or 0) == []
            continue
        replayed = expected[key]
        assert replayed.score is not None
        assert trial.state == TrialState.succeeded.value, trial.error
        assert trial.feasible is replayed.score.feasible
        assert trial.score == pytest.approx(replayed.score.value)
        rounds = store.rounds(trial.id or 0)
        assert [(r.scenario, r.concurrency, r.output_throughput) for r in rounds] == [
            (r.scenario, r.concurrency, pytest.approx(r.output_throughput)) for r in replayed.rounds
        ]
        assert all(r.source_file.startswith(f"replay of {surface_file.name}") for r in rounds)
        assert (home / "runs" / run.id / f"trial-{trial.number:03d}" / "engine.log").is_file()
    best = next(t for t in trials if t.number == run.best_trial)
    assert (best.params["max-num-seqs"], best.params["max-num-batched-tokens"]) == max(
        feasible, key=feasible.__getitem__
    )


def _grid(space: dict[str, list[int]]) -> list[dict[str, int]]:
    return [
        {"max-num-seqs": s, "max-num-batched-tokens": b}
        for s in space["max-num-seqs"]
        for b in space["max-num-batched-tokens"]
    ]


def test_the_demo_runs_a_whole_search_with_confirmation_and_publishes_what_a_real_run_does(
    prefect_server: None, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = load_spec(DEMO)

    code = main(["tune", str(DEMO)])

    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    store = Store()
    run = store.find_run(spec.name)
    trials = store.trials(run.id)
    # A configuration the sampler proposes again is not run again: a repeat costs none of the budget.
    searched = [t for t in trials if t.confirms is None and t.state != TrialState.repeated.value]
    confirmations = [t for t in trials if t.confirms is not None]
    # TPE over 9 configurations may propose only measured ones before its budget is spent: the search then ends.
    assert 4 <= len(searched) <= spec.strategy.max_trials
    # The two leaders, each measured twice more; with noise the repeats differ as real measurements do.
    assert len({t.confirms for t in confirmations}) == spec.confirmation.top
    assert len(confirmations) == spec.confirmation.top * spec.confirmation.repeats
    assert len({t.score for t in confirmations}) == len(confirmations)
    measured = [t for t in trials if t.state == TrialState.succeeded.value]
    assert {t.feasible for t in measured} == {True, False}  # the SLOs leave some configurations infeasible
    # One round per load level the surface recorded; an infeasible one stops at the level that broke a hard SLO.
    levels = len(spec.benchmark.concurrency)
    assert all(len(store.rounds(t.id or 0)) == levels for t in measured if t.feasible)
    assert all(1 <= len(store.rounds(t.id or 0)) <= levels for t in measured)
    best = next(t for t in trials if t.number == run.best_trial)
    assert best.feasible and best.confirms is None
    assert f"Best configuration of {spec.name}: trial {best.number}" in out
    assert "python3 -m vllm.entrypoints.openai.api_server" in out  # the launch command a real run would show
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts(limit=200)}
    plots = {"search-progress", "pareto", "throughput-latency", "parameter-effects", "parameter-importance"}
    artifacts = {"leaderboard", "best", "progress", "report", *plots}
    assert {f"{spec.name}-{artifact}" for artifact in artifacts} <= keys

    # The report to share: one file, every plot inside it, nothing fetched from elsewhere.
    shared = home / "shared.html"
    assert main(["report", spec.name, "-o", str(shared)]) == 0
    page = shared.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(plots)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert os.environ["SERVETUNE_HOME"] == str(home) and (home / "servetune.db").is_file()
