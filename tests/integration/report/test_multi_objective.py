"""Several objectives (Pareto front and pick rule), the nearest miss when nothing is feasible, and the
leaderboard's reasons for each trial that did not count.

Trials are recorded through the real scoring and store on SQLite and PostgreSQL; no engine runs here.
"""

from __future__ import annotations

from typing import Any

import pytest
from optuna.study import StudyDirection
from optuna.trial import TrialState as OptunaTrialState
from pydantic import ValidationError

from tests.support.factories import make_spec, round_metrics
from tuning.cli import main
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.pareto import Goal, pareto_front
from tuning.evaluation.ranking import conclude, leaders, nearest_miss
from tuning.evaluation.scoring import score
from tuning.report.leaderboard import best_card, leaderboard_rows, pareto_rows
from tuning.search.study import Reporter, Search, study_name
from tuning.spec import ObjectiveSpec, SLOSpec, TuningSpec
from tuning.store import Store, Trial, TuningRun

TWO = ["output_throughput", {"metric": "ttft", "statistic": "p90"}]


def _spec(**fields: Any) -> TuningSpec:
    return make_spec("pareto-test", **({"search_space": {"max-num-seqs": [1, 2, 4, 8]}} | fields))


def _round(concurrency: int = 4, throughput: float = 100.0, ttft: float = 0.2, errors: float = 0.0) -> RoundMetrics:
    return round_metrics(concurrency=concurrency, throughput=throughput, ttft_p90=ttft, error_rate=errors)


def _record(
    store: Store,
    run: TuningRun,
    spec: TuningSpec,
    number: int,
    rounds: list[RoundMetrics],
    confirms: int | None = None,
    stopped_early: str | None = None,
) -> None:
    """A trial as the trial flow records it: scored by the real scoring against the spec."""
    params = {"max-num-seqs": number if confirms is None else confirms}
    store.start_trial(run.id, number, params, confirms)
    result = score(rounds, spec.objectives, spec.slos, 1, ranks=spec.objective)
    outcome = TrialOutcome(
        number=number, params=params, state=TrialState.succeeded, score=result, stopped_early=stopped_early
    )
    store.finish_trial(run.id, outcome, rounds)


# --- the spec ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"objectives": TWO, "pick": {"best": "tpot_p90"}},
            "pick.best: 'tpot_p90' is not one of the objectives: output_throughput, ttft_p90",
        ),
        (
            {"objectives": TWO, "pick": {"limits": {"ttft_p99": 1.0}}},
            "pick.limits.ttft_p99: 'ttft_p99' is not one of the objectives: output_throughput, ttft_p90",
        ),
        ({"strategy": {"name": "nsga2"}}, "strategy.name nsga2 needs two or more objectives (objectives)"),
        (
            {"objectives": TWO, "strategy": {"name": "tpe", "pruner": "median"}},
            "strategy.pruner 'median' cannot be used with several objectives",
        ),
        ({"pick": {"best": "ttft_p90"}}, "pick chooses a point of the Pareto front of several objectives"),
        ({"objectives": [*TWO, {"metric": "ttft", "aggregate": "worst"}]}, "objectives[2] (ttft_p90) repeats"),
        (
            {"objectives": TWO, "objective": "tpot"},
            "objective (tpot_p90) differs from the objective pick.best names (output_throughput)",
        ),
    ],
)
def test_bad_objective_settings_are_refused_naming_the_field_and_the_value(fields: dict, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _spec(**fields)
    assert expected in str(caught.value)


def test_with_several_objectives_the_picked_one_is_the_runs_single_objective_and_the_spec_round_trips() -> None:
    spec = _spec(objectives=TWO, pick={"best": "ttft_p90", "limits": {"output_throughput": 50}})
    assert spec.objective == ObjectiveSpec(metric="ttft", statistic="p90")
    assert [o.name for o in spec.objectives] == ["output_throughput", "ttft_p90"]
    assert spec.pick.describe(spec.objectives) == "best ttft_p90 with output_throughput >= 50"
    assert TuningSpec.model_validate(spec.model_dump(mode="json")) == spec


def test_a_single_objective_spec_searches_that_one_objective() -> None:
    spec = _spec(objective="ttft")
    assert spec.objectives == [spec.objective] == [ObjectiveSpec(metric="ttft")]
    assert spec == _spec(objectives=["ttft"])  # `objective: X` is `objectives: [X]`
    assert TuningSpec.model_validate(spec.model_dump(mode="json")) == spec


def test_a_spec_stored_by_an_earlier_release_still_loads() -> None:
    """Stored specs of earlier releases have both keys: the single `objective`, and `objectives` (empty unless
    there were several, the single one then being the one the pick rule names)."""
    single = _spec(objective="ttft").model_dump(mode="json") | {"objective": {"metric": "ttft"}, "objectives": []}
    assert TuningSpec.model_validate(single).objectives == [ObjectiveSpec(metric="ttft")]
    several = _spec(objectives=TWO, pick={"best": "ttft_p90"})
    stored = several.model_dump(mode="json") | {"objective": {"metric": "ttft", "statistic": "p90"}}
    assert TuningSpec.model_validate(stored) == several


def test_each_objective_is_scored_in_its_own_direction_and_a_soft_penalty_worsens_every_one() -> None:
    spec = _spec(objectives=TWO, slos=[{"metric": "e2e_latency", "max": 0.05, "hard": False}])  # e2e 0.1: +100%
    result = score([_round(throughput=100.0, ttft=0.2)], spec.objectives, spec.slos, ranks=spec.objective)
    assert result.objective_scores == pytest.approx([50.0, 0.4])  # throughput halved, latency doubled


# --- the search --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["grid", "random", "tpe", "nsga2", "gp"])
def test_a_two_objective_search_is_told_a_value_per_objective(database_url: str, strategy: str) -> None:
    spec = _spec(objectives=TWO, strategy={"name": strategy, "max_trials": 12, "seed": 1})
    search = Search(spec, f"two-{strategy}", database_url)
    assert search.study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    told = 0
    while (asked := search.ask()) is not None:
        number, params = asked
        seqs = params["max-num-seqs"]
        search.tell_value(number, [100.0 * seqs, 0.05 * seqs], [(seqs - 4) / 4])
        told += 1
    assert told == search.budget == (4 if strategy == "grid" else 12)
    complete = [t for t in search.study.trials if t.state is OptunaTrialState.COMPLETE]
    assert len(complete) == told and all(len(t.values) == 2 for t in complete)


def test_a_two_objective_study_refuses_a_single_number(database_url: str) -> None:
    search = Search(_spec(objectives=TWO, strategy={"name": "random", "seed": 0}), "one-number", database_url)
    number, _ = search.ask()
    with pytest.raises(ValueError, match=r"trial 0: the study has 2 objective\(s\) but was told \[1.0\]"):
        search.tell_value(number, 1.0, [])


def test_a_single_objective_study_takes_a_bare_number_or_a_list_of_one(database_url: str) -> None:
    search = Search(_spec(strategy={"name": "random", "seed": 0}), "single", database_url)
    for value in (3.0, [4.0]):
        number, _ = search.ask()
        search.tell_value(number, value, [])
    assert [t.value for t in search.study.trials] == [3.0, 4.0]


def test_a_multi_objective_trial_reports_to_no_pruner(database_url: str) -> None:
    """Optuna refuses intermediate values for several objectives; the trial flow still calls report."""
    spec = _spec(objectives=TWO, strategy={"name": "tpe", "seed": 0})
    search = Search(spec, study_name("mo-report"), database_url)
    number, _ = search.ask()
    reporter = Reporter(spec, "mo-report", number, database_url)
    reporter.report(10.0, 0)
    assert reporter.should_prune() is False


def test_the_stored_front_agrees_with_optunas_own_constrained_front(database_url: str) -> None:
    """An NSGA-II search recorded through scoring and the store: servetune's front is Optuna's best_trials."""
    spec = _spec(
        objectives=TWO,
        search_space={"max-num-seqs": {"low": 1, "high": 64}},
        strategy={"name": "nsga2", "max_trials": 16, "seed": 2},
        slos=[{"metric": "ttft", "statistic": "p90", "max": 1.0}],
    )
    store = Store(database_url)
    run = store.start_run(spec)
    search = Search(spec, study_name(run.id), database_url)
    while (asked := search.ask()) is not None:
        number, params = asked
        seqs = params["max-num-seqs"]
        # Throughput rises with batch size but flattens; TTFT rises with it, and past ~48 breaks the SLO.
        rounds = [_round(throughput=100.0 * seqs**0.5 + (seqs % 3) * 7, ttft=0.02 * seqs + 0.05 * (seqs % 2))]
        store.start_trial(run.id, number, params)
        result = score(rounds, spec.objectives, spec.slos, 1, ranks=spec.objective)
        store.finish_trial(
            run.id, TrialOutcome(number=number, params=params, state=TrialState.succeeded, score=result), rounds
        )
        recorded = store.trial(run.id, number)
        search.tell_value(number, recorded.objective_scores, recorded.constraints)
    front = pareto_front(store.trials(run.id), Goal.of_spec(spec))
    assert front.points
    assert all(p.trial.feasible for p in front.points)
    # Optuna's front may list the same configuration twice (a repeated draw); servetune keeps each trial.
    assert sorted(front.numbers) == sorted(t.number for t in search.study.best_trials)


# --- the Pareto front and the pick rule --------------------------------------------------------------------


def _trial(number: int, throughput: float, ttft: float, feasible: bool = True, confirms: int | None = None) -> Trial:
    return Trial(
        run_id="r",
        number=number,
        params={"max-num-seqs": number if confirms is None else confirms},
        state=TrialState.succeeded,
        score=throughput,
        objective_scores=[throughput, ttft],
        feasible=feasible,
        confirms=confirms,
    )


GOAL = Goal.of_spec(_spec(objectives=TWO, pick={"limits": {"ttft_p90": 0.5}}))


def test_the_front_holds_the_feasible_points_no_other_one_beats_on_both_objectives() -> None:
    trials = [
        _trial(0, 100.0, 0.2),  # on the front: the lowest TTFT
        _trial(1, 150.0, 0.4),  # on the front
        _trial(2, 120.0, 0.45),  # dominated by 1: slower and later
        _trial(3, 400.0, 0.1, feasible=False),  # would dominate all, but broke a hard SLO
        _trial(4, 200.0, 0.9),  # on the front: the most throughput, though outside the pick's limit
        _trial(5, 150.0, 0.4),  # the same as 1: both stay
    ]
    assert sorted(pareto_front(trials, GOAL).numbers) == [0, 1, 4, 5]


def test_the_pick_rule_takes_the_best_of_its_objective_among_front_points_within_the_limits() -> None:
    trials = [_trial(0, 100.0, 0.2), _trial(1, 150.0, 0.4), _trial(4, 200.0, 0.9)]
    front = pareto_front(trials, GOAL)
    assert front.picked is not None and front.picked.trial.number == 1  # 4 is faster but its TTFT is 0.9 > 0.5
    assert front.numbers == [1, 0, 4]  # within the limit by throughput, then the one outside it
    conclusion = conclude(trials, GOAL)
    assert conclusion.best.number == 1
    assert conclusion.message == (
        "picked trial 1 from a Pareto front of 3 by the rule best output_throughput with ttft_p90 <= 0.5: "
        "output_throughput 150, ttft_p90 0.4"
    )


def test_when_no_front_point_is_within_the_limits_none_is_picked_and_the_closest_is_named() -> None:
    trials = [_trial(0, 100.0, 0.6), _trial(1, 200.0, 0.9)]
    conclusion = conclude(trials, GOAL)
    assert conclusion.best is None
    assert conclusion.message == (
        "Pareto front of 2 configuration(s), none within the pick rule best output_throughput with "
        "ttft_p90 <= 0.5; closest: trial 0 (ttft_p90 0.6, limit <= 0.5)"
    )


def test_confirmations_are_averaged_in_and_can_change_the_pick() -> None:
    first = [_trial(0, 100.0, 0.2), _trial(1, 150.0, 0.4)]
    assert conclude(first, GOAL).best.number == 1
    assert [t.number for t in leaders(first, GOAL)] == [1, 0]  # confirmed in the pick rule's order
    # Measured again, trial 1's TTFT is 0.8: its mean 0.6 breaks the limit, so trial 0 is picked.
    confirmed = [*first, _trial(2, 150.0, 0.8, confirms=1), _trial(3, 104.0, 0.2, confirms=0)]
    conclusion = conclude(confirmed, GOAL)
    assert conclusion.best.number == 0
    assert "trial 0 confirmed over 2 runs: output_throughput mean 102, range 100-104" in conclusion.message


# --- stored, and shown -------------------------------------------------------------------------------------


def test_each_objective_and_the_front_are_stored_and_shown(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(objectives=TWO, pick={"limits": {"ttft_p90": 0.5}}, slos=[{"metric": "error_rate", "max": 0.0}])
    store = Store(database_url)
    run = store.start_run(spec)
    _record(store, run, spec, 0, [_round(throughput=100.0, ttft=0.2)])
    _record(store, run, spec, 1, [_round(throughput=150.0, ttft=0.4)])
    _record(store, run, spec, 2, [_round(throughput=120.0, ttft=0.45)])
    _record(store, run, spec, 3, [_round(throughput=500.0, ttft=0.1, errors=0.1)])
    conclusion = conclude(store.trials(run.id), Goal.of_spec(spec))
    store.mark_front(run.id, conclusion.front.numbers)
    store.finish_run(run.id, "completed", conclusion.message, conclusion.best.number)

    trials = {t.number: t for t in Store(database_url).trials(run.id)}
    assert trials[1].objective_scores == [150.0, 0.4]
    assert [n for n, t in trials.items() if t.on_front] == [0, 1]
    finished = store.find_run(run.id)
    assert finished.best_trial == 1

    front = pareto_rows(store, finished)
    assert [(r["trial"], r["output_throughput"], r["ttft_p90"], r["pick rule"]) for r in front] == [
        ("1 *", "150", "0.4", "picked"),
        ("0", "100", "0.2", "within"),
    ]
    card = best_card(store, finished, trials[1])
    assert "# Picked configuration of `pareto-test`: trial 1" in card
    assert "by the rule **best output_throughput with ttft_p90 <= 0.5**" in card
    notes = {r["trial"]: r["note"] for r in leaderboard_rows(store, finished)}
    assert notes["2"] == "dominated by trial 1"
    assert notes["0"] == "on the Pareto front"
    assert notes["1 *"] == "picked: best output_throughput with ttft_p90 <= 0.5"
    assert notes["3"] == "infeasible: error_rate <= 0 at D(100,100) x4: 0.1 > 0"

    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    assert main(["show", run.id]) == 0
    out = capsys.readouterr().out
    assert "Pareto front (★ picked):" in out
    assert "Picked configuration of pareto-test: trial 1" in out and "**" not in out
    assert "picked trial 1 from a Pareto front of 2" in out


# --- no feasible trial: the nearest miss -------------------------------------------------------------------


def test_without_a_feasible_trial_the_run_names_the_nearest_miss_its_slo_and_by_how_much(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(slos=[{"metric": "ttft", "statistic": "p90", "max": 0.5}, {"metric": "error_rate", "max": 0.0}])
    store = Store(database_url)
    run = store.start_run(spec)
    _record(store, run, spec, 0, [_round(1, ttft=0.3), _round(4, ttft=0.9)])  # 80% over
    _record(store, run, spec, 1, [_round(1, ttft=0.3), _round(4, ttft=0.6)])  # 20% over: the nearest
    _record(store, run, spec, 2, [_round(1, ttft=0.2, errors=0.5)], stopped_early="stopped at concurrency 1: ...")
    conclusion = conclude(store.trials(run.id), Goal.of_spec(spec))
    assert conclusion.best is None
    assert conclusion.message == (
        "3 trial(s) succeeded but none met every hard SLO; nearest miss: trial 1 (max-num-seqs=1): "
        "ttft p90 <= 0.5s broken by 20% (0.6 at D(100,100) x4)"
    )
    store.finish_run(run.id, "completed", conclusion.message, None)
    finished = store.find_run(run.id)
    card = best_card(store, finished, None)
    assert "Nearest miss: trial 1, whose hard SLOs came closest to being met:" in card
    assert "| ttft p90 <= 0.5s | 0.6 | D(100,100) x4 | 20% |" in card
    assert "| `max-num-seqs` | `1` |" in card

    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    assert main(["show", run.id]) == 0
    assert "Nearest miss: trial 1" in capsys.readouterr().out


def test_an_slo_with_a_limit_of_zero_is_missed_by_an_absolute_amount() -> None:
    trial = Trial(
        run_id="r",
        number=0,
        params={},
        state=TrialState.succeeded,
        feasible=False,
        constraints=[0.05],
        violations=[
            {
                "slo": "error_rate <= 0",
                "scenario": "D(1,1)",
                "concurrency": 2,
                "observed": 0.05,
                "limit": 0.0,
                "hard": True,
            }
        ],
    )
    assert (
        nearest_miss([trial]).describe() == "trial 0 ((defaults)): error_rate <= 0 broken by 0.05 (0.05 at D(1,1) x2)"
    )


# --- why each trial did not count --------------------------------------------------------------------------


def test_the_leaderboard_says_why_each_trial_did_not_count(database_url: str) -> None:
    spec = _spec(slos=[SLOSpec(metric="ttft", statistic="p90", max=0.5).model_dump()])
    store = Store(database_url)
    run = store.start_run(spec)
    _record(store, run, spec, 0, [_round(1, ttft=0.2)])
    _record(
        store,
        run,
        spec,
        1,
        [_round(1, ttft=0.7)],
        stopped_early="stopped at concurrency 1: hard SLO broken (ttft p90 <= 0.5s), so higher levels were not run",
    )
    store.start_trial(run.id, 2, {"max-num-seqs": 2})
    store.finish_trial(
        run.id,
        TrialOutcome(
            number=2,
            params={"max-num-seqs": 2},
            state=TrialState.pruned,
            score=score([_round(1, throughput=10.0)], spec.objectives, spec.slos),
            stopped_early="pruned at concurrency 1: score so far 10 is below earlier trials'",
        ),
        [_round(1, throughput=10.0)],
    )
    for number, state, phase, error in [
        (3, TrialState.failed, Phase.deploy, "RuntimeError: engine exited with code 1\nTraceback ..."),
        (4, TrialState.timed_out, Phase.ready, "TimeoutError: not ready after 300s"),
    ]:
        store.start_trial(run.id, number, {"max-num-seqs": number})
        store.finish_trial(run.id, TrialOutcome(number=number, params={}, state=state, phase=phase, error=error), [])
    store.record_not_run(
        run.id, 5, {"max-num-seqs": 1}, TrialState.repeated, "same configuration as trial 0; its result was reused"
    )
    store.record_not_run(
        run.id,
        6,
        {"tensor-parallel-size": 4},
        TrialState.rejected,
        "rejected: tensor x data parallel is 4 GPUs, 1 available",
    )
    _record(store, run, spec, 7, [_round(1, ttft=0.9)], confirms=0)

    rows = {r["trial"]: r for r in leaderboard_rows(store, store.find_run(run.id))}
    assert rows["0"]["note"] == "infeasible when measured again: trial 7"
    assert (rows["1"]["state"], rows["1"]["note"]) == (
        "infeasible",
        "infeasible: ttft p90 <= 0.5s at D(100,100) x1: 0.7 > 0.5; stopped at concurrency 1",
    )
    assert rows["2"]["note"] == "pruned at concurrency 1: score so far 10 is below earlier trials'"
    assert (rows["3"]["state"], rows["3"]["note"]) == ("failed", "deploy: RuntimeError: engine exited with code 1")
    assert (rows["4"]["state"], rows["4"]["note"]) == ("timed_out", "ready: TimeoutError: not ready after 300s")
    assert (rows["5"]["state"], rows["5"]["note"]) == (
        "repeated",
        "same configuration as trial 0; its result was reused",
    )
    assert (rows["6"]["state"], rows["6"]["note"]) == (
        "rejected",
        "rejected: tensor x data parallel is 4 GPUs, 1 available",
    )
    assert rows["7"]["note"] == "confirms trial 0; infeasible: ttft p90 <= 0.5s at D(100,100) x1: 0.9 > 0.5"


# --- one best, named the same everywhere -------------------------------------------------------------------

# (output_throughput, ttft_p90) per trial: trial 2 has the most throughput, the first objective, but its TTFT is
# outside the pick rule's limit; the rule picks trial 1.
MEASURED = [(100.0, 0.2), (150.0, 0.4), (300.0, 0.9), (120.0, 0.45)]


def test_a_multi_objective_run_whose_pick_limits_exclude_the_top_scorer_names_the_same_trial_everywhere(
    database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal

    import flows
    from tuning.evaluation.outcome import RunState
    from tuning.report.history import target_history

    fields = {"objectives": TWO, "pick": {"limits": {"ttft_p90": 0.5}}}
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        "name: one-best\nmodel: {path: /models/m}\nsearch_space: {max-num-seqs: [0, 1, 2, 3]}\n"
        "objectives: [output_throughput, {metric: ttft, statistic: p90}]\npick: {limits: {ttft_p90: 0.5}}\n"
    )
    store = Store(database_url)
    concluded: list[int | None] = []

    def tune_flow(spec: TuningSpec, fresh: bool = False) -> flows.TuneSummary:
        """The tune flow's ending without an engine: trials recorded through the real scoring and store, the
        run's best decided by the one conclusion and stored."""
        assert (spec.objectives, spec.pick) == (_spec(**fields).objectives, _spec(**fields).pick)
        run = store.start_run(spec)
        for number, (throughput, ttft) in enumerate(MEASURED):
            _record(store, run, spec, number, [_round(throughput=throughput, ttft=ttft)])
        conclusion = conclude(store.trials(run.id), Goal.of_spec(spec))
        best = conclusion.best.number if conclusion.best else None
        concluded.append(best)
        store.mark_front(run.id, conclusion.front.numbers)
        store.finish_run(run.id, RunState.completed, conclusion.message, best)
        return flows.TuneSummary(
            run_id=run.id, trials=4, succeeded=4, best_trial=best, best_score=None, message=conclusion.message
        )

    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    monkeypatch.setattr(flows, "tune", tune_flow)
    monkeypatch.setattr("tuning.cli._tune._start_prefect_server_shielded_from_ctrl_c", lambda: "nowhere")
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # cmd_tune's SIGTERM handler, not for pytest

    assert main(["tune", str(spec_file)]) == 0  # the exit code: a configuration was picked
    tuned = capsys.readouterr().out
    run = store.runs(1)[0]
    trials = store.trials(run.id)
    top_scorer = max(trials, key=lambda t: t.score or 0.0)
    assert top_scorer.number == 2 and top_scorer.feasible  # what a one-number ranking would call best

    assert concluded == [1]  # the flows' conclusion
    assert run.best_trial == 1  # stored
    assert "Picked configuration of one-best: trial 1" in tuned  # `servetune tune`
    assert main(["show", run.id]) == 0
    shown = capsys.readouterr().out
    assert "Picked configuration of one-best: trial 1" in shown  # `servetune show`
    assert "picked trial 1 from a Pareto front" in shown
    best = next(t for t in trials if t.number == run.best_trial)
    assert "trial 1" in best_card(store, run, best).splitlines()[0]  # the best-configuration artifact
    starred = [r["trial"] for r in leaderboard_rows(store, run) if r["trial"].endswith("*")]
    assert starred == ["1 *"]  # the leaderboard artifact
    assert [r["trial"] for r in pareto_rows(store, run) if r["trial"].endswith("*")] == ["1 *"]
    assert target_history(store, "one-best")[-1].trial == 1  # `servetune history`
    assert main(["history", "one-best"]) == 0
    history = capsys.readouterr().out
    assert "max-num-seqs=1" in history and "max-num-seqs=2" not in history
