"""The plots of a run, drawn from what the store and the Optuna study hold: runs recorded through the real
scoring, store and study on SQLite, with trials in every state; no engine runs here."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import optuna
from matplotlib.image import imread

from tests.support.factories import make_spec, round_metrics
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import Phase, RunState, TrialOutcome, TrialState
from tuning.evaluation.pareto import Goal
from tuning.evaluation.ranking import conclude
from tuning.evaluation.scoring import score
from tuning.report.figure import Figure
from tuning.report.plots import run_figures
from tuning.search.study import Search, study_name
from tuning.spec import Configuration, TuningSpec
from tuning.store import Store, TuningRun

ALL = ["search-progress", "pareto", "throughput-latency", "parameter-effects", "parameter-importance"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SLO = {"metric": "ttft", "statistic": "p90", "max": 0.5}

# What becomes of each trial the search asks for, in order.
EVERY_STATE = [
    "ok", "ok", "infeasible", "failed", "ok", "timed_out", "pruned", "rejected", "repeated", "ok", "ok", "infeasible",
]  # fmt: skip


def _spec(name: str, trials: int, **fields: Any) -> TuningSpec:
    return make_spec(
        name,
        search_space={"max-num-seqs": {"low": 1, "high": 64}, "kv-cache-dtype": ["auto", "fp8"]},
        strategy={"name": "random", "seed": 3, "max_trials": trials},
        benchmark={"concurrency": [1, 4, 16]},
        slos=[SLO],
        **fields,
    )


def _rounds(params: Configuration, too_slow: bool) -> list[RoundMetrics]:
    """Throughput grows with the batch and the load and flattens; so does the time to the first token."""
    seqs, fast = int(params["max-num-seqs"]), params["kv-cache-dtype"] == "fp8"
    rounds = []
    for concurrency in (1, 4, 16):
        throughput = 40.0 * math.sqrt(concurrency * min(seqs, concurrency)) * (1.3 if fast else 1.0)
        ttft = 0.02 * concurrency * (1 + seqs / 64) + (0.6 if too_slow else 0.0)
        per_user = throughput / concurrency
        rounds.append(
            round_metrics(
                concurrency=concurrency, throughput=throughput, ttft_p90=ttft, output_throughput_per_user=per_user
            )
        )
    return rounds


def _measure(store: Store, search: Search, spec: TuningSpec, run: TuningRun, number: int, **how: Any) -> None:
    params, confirms, too_slow = how["params"], how.get("confirms"), how.get("too_slow", False)
    store.start_trial(run.id, number, params, confirms)
    rounds = _rounds(params, too_slow)
    result = score(rounds, spec.objectives, spec.slos, 1, ranks=spec.objective)
    state = how.get("state", TrialState.succeeded)
    store.finish_trial(run.id, TrialOutcome(number=number, params=params, state=state, score=result), rounds)
    recorded = store.trial(run.id, number)
    assert recorded is not None
    if state is TrialState.pruned:
        search.tell_pruned(number)
    else:
        search.tell_value(number, recorded.objective_scores or recorded.score, recorded.constraints)


def _recorded_run(url: str, spec: TuningSpec, plan: list[str], finish: bool = True) -> tuple[Store, TuningRun]:
    """A run whose trials end as ``plan`` says, told to its study as the tune flow tells them; then the best
    configuration measured once more, and the run concluded."""
    store = Store(url)
    run = store.start_run(spec)
    search = Search(spec, study_name(run.id), url, run_id=run.id)
    first: Configuration | None = None
    for fate in plan:
        asked = search.ask()
        assert asked is not None
        number, params = asked
        if fate in ("ok", "infeasible", "pruned"):
            state = TrialState.pruned if fate == "pruned" else TrialState.succeeded
            _measure(store, search, spec, run, number, params=params, too_slow=fate == "infeasible", state=state)
            first = first or params
        elif fate in ("failed", "timed_out"):
            store.start_trial(run.id, number, params)
            outcome = TrialOutcome(
                number=number, params=params, state=TrialState(fate), phase=Phase.ready, error=f"engine {fate}"
            )
            store.finish_trial(run.id, outcome, [])
            search.tell_failed(number)
        elif fate == "rejected":
            store.record_not_run(run.id, number, params, TrialState.rejected, "rejected: 4 GPUs, 1 available")
            search.tell_infeasible(number)
        elif fate == "repeated":
            assert first is not None
            earlier = search.measured(first)
            assert earlier is not None
            store.record_not_run(run.id, number, first, TrialState.repeated, "same configuration as trial 0")
            search.tell_repeat(number, earlier)
        elif fate == "running":
            store.start_trial(run.id, number, params)
    conclusion = conclude(store.trials(run.id), Goal.of_spec(spec))
    if conclusion.best is not None and finish:
        best = conclusion.best
        number = search.ask_confirmation(best.params, best.number)
        _measure(store, search, spec, run, number, params=best.params, confirms=best.number)
        conclusion = conclude(store.trials(run.id), Goal.of_spec(spec))
    if finish:
        best_number = conclusion.best.number if conclusion.best else None
        state = RunState.completed if conclusion.best else RunState.failed
        store.finish_run(run.id, state, conclusion.message, best_number)
    return store, store.find_run(run.id)


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'servetune.db'}"


def _assert_images(figures: list[Figure]) -> None:
    for figure in figures:
        assert figure.png.startswith(PNG_SIGNATURE), figure.key
        pixels = imread(io.BytesIO(figure.png), format="png")
        height, width = pixels.shape[:2]
        assert 600 <= width <= 1200 and 200 <= height <= 1200, (figure.key, width, height)
        assert len(figure.png) < 150_000, (figure.key, len(figure.png))  # each version is kept in Prefect's database
        assert pixels.std() > 0.05, figure.key  # something is drawn, not a blank canvas
        assert figure.title in figure.markdown() and figure.caption


def test_a_one_objective_run_with_trials_in_every_state_gets_every_plot(tmp_path: Path) -> None:
    spec = _spec("plots-one", len(EVERY_STATE))
    store, run = _recorded_run(_url(tmp_path), spec, EVERY_STATE)
    assert run.best_trial is not None

    figures = run_figures(store, run)

    assert [f.key for f in figures] == ALL
    _assert_images(figures)
    captions = {f.key: f.caption for f in figures}
    assert "No importance plot" not in captions["parameter-effects"]
    assert "SLO" in captions["throughput-latency"]


def test_a_two_objective_run_draws_its_front_with_the_pick_rules_limit(tmp_path: Path) -> None:
    plan = [fate for fate in EVERY_STATE if fate != "pruned"]  # Optuna prunes single-objective studies only
    spec = _spec("plots-two", len(plan), objectives="user-vs-gpu", pick={"limits": {"output_throughput_per_user": 30}})
    store, run = _recorded_run(_url(tmp_path), spec, plan)

    figures = run_figures(store, run, gpus=lambda params: 2)

    assert [f.key for f in figures] == ALL
    _assert_images(figures)
    pareto = next(f for f in figures if f.key == "pareto")
    assert "best output_throughput_per_user with output_throughput_per_user >= 30" in pareto.caption


def test_a_run_whose_trials_all_failed_gets_only_its_progress_and_no_error(tmp_path: Path) -> None:
    spec = _spec("plots-failed", 4)
    store, run = _recorded_run(_url(tmp_path), spec, ["failed", "timed_out", "rejected", "failed"])
    assert run.state == RunState.failed

    figures = run_figures(store, run)

    assert [f.key for f in figures] == ["search-progress"]
    _assert_images(figures)


def test_a_run_still_running_is_drawn_with_its_best_so_far(tmp_path: Path) -> None:
    spec = _spec("plots-running", 4)
    store, run = _recorded_run(_url(tmp_path), spec, ["ok", "failed", "running"], finish=False)
    assert run.state == RunState.running

    figures = run_figures(store, run)

    # Too few scored trials for fANOVA: the effects plot says why there is no importance plot.
    assert [f.key for f in figures] == ALL[:-1]
    effects = next(f for f in figures if f.key == "parameter-effects")
    assert "No importance plot: 1 trial(s) told a score so far; fANOVA needs at least 3." in effects.caption
    _assert_images(figures)


def test_one_tuned_flag_has_its_effect_drawn_but_no_importance(tmp_path: Path) -> None:
    spec = make_spec(
        "plots-one-flag",
        search_space={"kv-cache-dtype": ["auto", "fp8"], "max-num-seqs": [8]},
        strategy={"name": "grid"},
        slos=[SLO],
    )
    spec = spec.model_copy(update={"search_space": {"kv-cache-dtype": spec.search_space["kv-cache-dtype"]}})
    store = Store(_url(tmp_path))
    run = store.start_run(spec)
    for number, dtype in enumerate(["auto", "fp8"]):
        params = {"kv-cache-dtype": dtype, "max-num-seqs": 8}
        store.start_trial(run.id, number, params)
        rounds = _rounds(params, too_slow=False)
        result = score(rounds, spec.objectives, spec.slos, 1)
        store.finish_trial(run.id, TrialOutcome(number=number, params=params, state="succeeded", score=result), rounds)

    figures = run_figures(store, store.find_run(run.id))

    assert "parameter-importance" not in [f.key for f in figures]
    effects = next(f for f in figures if f.key == "parameter-effects")
    assert "only one flag was tuned" in effects.caption


def test_the_importances_are_the_same_each_time_they_are_drawn(tmp_path: Path) -> None:
    spec = _spec("plots-seeded", len(EVERY_STATE))
    store, run = _recorded_run(_url(tmp_path), spec, EVERY_STATE)

    def importance() -> bytes:
        return next(f.png for f in run_figures(store, run) if f.key == "parameter-importance")

    assert importance() == importance()


def test_a_run_whose_study_is_gone_still_gets_its_other_plots(tmp_path: Path) -> None:
    spec = _spec("plots-no-study", 4)
    store, run = _recorded_run(_url(tmp_path), spec, ["ok", "ok", "ok", "infeasible"])
    optuna.delete_study(study_name=study_name(run.id), storage=store.url)

    figures = run_figures(store, run)

    assert [f.key for f in figures] == ALL[:-1]
    effects = next(f for f in figures if f.key == "parameter-effects")
    assert "No importance plot: the run's Optuna study is not in the database." in effects.caption
