"""The run's best against the engine's defaults: how much better, with both spreads, and when it cannot be told."""

from __future__ import annotations

from typing import Any

from tests.support.factories import make_spec
from tuning.evaluation.defaults import improvements, versus_defaults
from tuning.evaluation.pareto import Goal
from tuning.evaluation.ranking import conclude
from tuning.store import Trial


def _trial(number: int, score: float | None, params: dict[str, Any] | None = None, **fields: Any) -> Trial:
    data: dict[str, Any] = {"state": "succeeded", "feasible": score is not None} | fields
    return Trial(run_id="r", number=number, params=params or {}, score=score, **data)


def _goal(**objective: Any) -> Goal:
    return Goal.of_spec(make_spec(objective=objective or {"metric": "output_throughput"}))


def test_an_improvement_beyond_the_noise_is_stated_with_both_spreads_and_the_interval() -> None:
    trials = [
        _trial(0, 100.0),
        _trial(1, 130.0, {"max-num-seqs": 8}),
        _trial(2, 104.0, confirms=0),
        _trial(3, 126.0, {"max-num-seqs": 8}, confirms=1),
    ]
    (found,) = improvements(trials, trials[1], _goal()) or []
    assert found.defaults.values == [100.0, 104.0] and found.best.values == [130.0, 126.0]
    assert found.distinguishable
    assert round(found.relative or 0, 4) == round((128 - 102) / 102, 4)
    text = versus_defaults(trials, trials[1], _goal()) or ""
    assert "trial 1 is" in text and "25.5% better" in text
    assert "range 126-130, 2 runs" in text and "range 100-104, 2 runs" in text
    # Welch's t-test on 2 runs a side: the 95% interval of the difference of means leaves out 0.
    assert "told apart from the defaults: the 95% interval of the difference of means is +13.83 to +38.17" in text


def test_ranges_apart_on_two_runs_each_are_not_enough_when_the_interval_includes_no_difference() -> None:
    trials = [
        _trial(0, 100.0),
        _trial(1, 140.0, {"max-num-seqs": 8}),
        _trial(2, 80.0, confirms=0),
        _trial(3, 101.0, {"max-num-seqs": 8}, confirms=1),
    ]
    (found,) = improvements(trials, trials[1], _goal()) or []
    assert not found.best.overlaps(found.defaults)
    assert not found.distinguishable
    text = versus_defaults(trials, trials[1], _goal()) or ""
    assert "it cannot be told apart from the defaults: the 95% interval" in text and "includes no difference" in text


def test_with_a_single_run_on_one_side_the_ranges_decide() -> None:
    trials = [_trial(0, 100.0), _trial(1, 130.0, {"max-num-seqs": 8}), _trial(2, 104.0, confirms=0)]
    text = versus_defaults(trials, trials[1], _goal()) or ""
    assert "apart on every measurement" in text and "interval" not in text


def test_overlapping_measurements_say_the_winner_cannot_be_told_apart_from_the_defaults() -> None:
    trials = [
        _trial(0, 100.0),
        _trial(1, 103.0, {"max-num-seqs": 8}),
        _trial(2, 105.0, confirms=0),
        _trial(3, 101.0, {"max-num-seqs": 8}, confirms=1),
    ]
    text = versus_defaults(trials, trials[1], _goal()) or ""
    assert "cannot be told apart from the defaults" in text


def test_a_latency_objective_is_better_when_lower() -> None:
    goal = _goal(metric="ttft", statistic="p90")
    trials = [_trial(0, 2.0), _trial(1, 1.5, {"max-num-seqs": 8})]
    (found,) = improvements(trials, trials[1], goal) or []
    assert found.relative == 0.25
    assert "25.0% better" in (versus_defaults(trials, trials[1], goal) or "")


def test_defaults_that_failed_or_broke_a_hard_slo_are_said_so_and_not_compared() -> None:
    failed = [_trial(0, None, state="failed"), _trial(1, 10.0, {"max-num-seqs": 8})]
    assert (
        versus_defaults(failed, failed[1], _goal())
        == "the engine's defaults (trial 0) were not measured: they ended failed"
    )
    infeasible = [_trial(0, 50.0, feasible=False), _trial(1, 10.0, {"max-num-seqs": 8})]
    assert versus_defaults(infeasible, infeasible[1], _goal()) == "the engine's defaults (trial 0) broke a hard SLO"
    assert improvements(infeasible, infeasible[1], _goal()) is None


def test_a_run_without_a_defaults_trial_says_nothing_of_them() -> None:
    trials = [_trial(0, 10.0, {"max-num-seqs": 2}), _trial(1, 12.0, {"max-num-seqs": 8})]
    assert versus_defaults(trials, trials[1], _goal()) is None
    assert "defaults" not in conclude(trials, _goal()).message


def test_the_run_message_names_the_improvement_and_defaults_can_win() -> None:
    trials = [_trial(0, 100.0), _trial(1, 120.0, {"max-num-seqs": 8})]
    assert "against the engine's defaults (trial 0), trial 1 is" in conclude(trials, _goal()).message
    beaten = [_trial(0, 100.0), _trial(1, 80.0, {"max-num-seqs": 8})]
    conclusion = conclude(beaten, _goal())
    assert conclusion.best is not None and conclusion.best.number == 0
    assert "the engine's defaults (trial 0) scored best" in conclusion.message
