"""Capacity mode: a ladder of levels, then bisection, finds the highest load that meets every hard SLO."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.factories import make_spec, round_metrics
from tuning.evaluation.early_stop import early_stop
from tuning.evaluation.load import CapacitySearch, FixedLevels, load_plan
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.scoring import score_trial
from tuning.spec import TuningSpec

LADDER = [1, 2, 4, 8, 16, 32, 64]
TTFT_LIMIT = 0.3
TTFT_SLO = [{"metric": "ttft", "statistic": "p90", "max": TTFT_LIMIT}]
SHORT, LONG = "D(100,100)", "D(1000,100)"


def capacity_spec(resolution: float = 0.25, ladder: list[int] | None = None, **fields: Any) -> TuningSpec:
    benchmark = {
        "mode": "capacity",
        "concurrency": ladder or LADDER,
        "resolution": resolution,
        "traffic_scenarios": [SHORT, LONG],
        "max_requests_per_run": max(ladder or LADDER),
    }
    return make_spec(benchmark=benchmark, slos=fields.pop("slos", TTFT_SLO), **fields)


def linear(seconds_per_request: float) -> Callable[[int], float]:
    """A latency curve: p90 TTFT grows in proportion to the concurrency."""
    return lambda level: seconds_per_request * level


def at(level: int, curve: Callable[[int], float], scenario: str = SHORT) -> RoundMetrics:
    """The round a configuration with ``curve`` yields at ``level``: 10 tokens/s per concurrent request."""
    return round_metrics(scenario, concurrency=level, throughput=10.0 * level, ttft_p90=curve(level))


def search(
    spec: TuningSpec, curve: Callable[[int], float], scenario: str = SHORT
) -> tuple[list[list[int]], list[RoundMetrics]]:
    """Drive the search as a trial does: each genai-bench run measures its levels in order and stops once
    ``ends_run`` says so. Returns the levels of each run and every round measured."""
    plan = load_plan(spec.benchmark, spec.slos)
    runs: list[list[int]] = []
    rounds: list[RoundMetrics] = []
    while (levels := plan.next_levels(rounds)) is not None:
        assert len(runs) < 20, f"the search does not end: {runs}"
        runs.append(levels)
        for level in levels:
            rounds.append(at(level, curve, scenario))
            if plan.ends_run(rounds):
                break
    return runs, rounds


# --- the search ------------------------------------------------------------------------------------------


def test_load_plan_is_a_capacity_search_in_capacity_mode_and_fixed_levels_otherwise() -> None:
    assert isinstance(load_plan(capacity_spec().benchmark, capacity_spec().slos), CapacitySearch)
    levels = make_spec(benchmark={"concurrency": [1, 4]}, slos=TTFT_SLO)
    assert isinstance(load_plan(levels.benchmark, levels.slos), FixedLevels)


def test_the_ladder_stops_at_the_first_broken_level_then_bisects_to_within_the_resolution() -> None:
    spec = capacity_spec(resolution=0.25)
    curve = linear(0.01)  # TTFT p90 reaches 0.3 s at 30 concurrent requests: true capacity 30

    runs, rounds = search(spec, curve)

    assert runs == [LADDER, [24], [28]]
    assert [r.concurrency for r in rounds] == [1, 2, 4, 8, 16, 32, 24, 28]  # 64 is never run
    capacity = load_plan(spec.benchmark, spec.slos).counted(rounds).capacity[SHORT]
    assert capacity == 28
    assert 30 - capacity <= 0.25 * capacity


def test_a_finer_resolution_takes_more_steps_and_finds_the_exact_capacity() -> None:
    spec = capacity_spec(resolution=0.05)

    runs, rounds = search(spec, linear(0.01))

    assert runs == [LADDER, [24], [28], [30], [31]]
    assert load_plan(spec.benchmark, spec.slos).counted(rounds).capacity == {SHORT: 30}


def test_bisection_stops_when_the_gap_is_one_request() -> None:
    spec = capacity_spec(resolution=0.25, ladder=[1, 2, 4])
    plan = load_plan(spec.benchmark, spec.slos)
    curve = linear(0.11)  # 2 holds at 0.22 s, 3 breaks at 0.33 s
    rounds = [at(1, curve), at(2, curve), at(4, curve)]

    assert plan.next_levels(rounds) == [3]
    rounds.append(at(3, curve))
    assert plan.next_levels(rounds) is None  # 2 held, 3 broke: a gap of one request
    assert plan.counted(rounds).capacity == {SHORT: 2}


def test_a_configuration_that_breaks_at_the_lowest_level_is_infeasible() -> None:
    spec = capacity_spec()
    plan = load_plan(spec.benchmark, spec.slos)
    curve = linear(1.0)  # 1 s at one request: no load meets the 0.3 s SLO

    runs, rounds = search(spec, curve)

    assert runs == [LADDER]
    assert [r.concurrency for r in rounds] == [1]
    assert plan.next_levels(rounds) is None
    counted = plan.counted(rounds)
    assert counted.counted == rounds
    assert counted.capacity == {}
    score = score_trial(spec, rounds, gpus=1)
    assert score.feasible is False
    assert score.capacity == {}
    assert [(v.concurrency, v.beyond_capacity) for v in score.violations] == [(1, False)]


def test_when_every_ladder_level_holds_capacity_is_the_top_level_without_bisection() -> None:
    spec = capacity_spec(ladder=[1, 2, 4, 8])

    runs, rounds = search(spec, linear(0.01))

    assert runs == [[1, 2, 4, 8]]
    counted = load_plan(spec.benchmark, spec.slos).counted(rounds)
    assert counted.capacity == {SHORT: 8}
    assert [r.concurrency for r in counted.counted] == [8]
    assert counted.beyond == []


def test_a_noisy_pass_above_the_first_failure_does_not_raise_capacity() -> None:
    spec = capacity_spec(ladder=[1, 2, 4, 8])
    plan = load_plan(spec.benchmark, spec.slos)
    rounds = [
        round_metrics(SHORT, concurrency=1, ttft_p90=0.1),
        round_metrics(SHORT, concurrency=2, ttft_p90=0.2),
        round_metrics(SHORT, concurrency=4, ttft_p90=0.5),
        round_metrics(SHORT, concurrency=8, ttft_p90=0.25),  # noise: passes after 4 broke
    ]

    counted = plan.counted(rounds)

    assert counted.capacity == {SHORT: 2}
    assert [r.concurrency for r in counted.counted] == [2]
    assert sorted(r.concurrency for r in counted.beyond) == [4, 8]
    assert plan.next_levels(rounds) == [3]  # bisects below the lowest failure, not above the noisy pass
    assert score_trial(spec, rounds, gpus=1).capacity == {SHORT: 2}


def test_the_run_ends_on_a_round_that_breaks_a_hard_slo_but_not_a_soft_one() -> None:
    slos = [*TTFT_SLO, {"metric": "tpot", "statistic": "p90", "max": 0.05, "hard": False}]
    spec = capacity_spec(slos=slos)
    plan = load_plan(spec.benchmark, spec.slos)

    assert plan.ends_run([round_metrics(concurrency=1, ttft_p90=0.1, tpot_p90=0.5)]) is False
    assert plan.ends_run([round_metrics(concurrency=1, ttft_p90=0.4)]) is True


def test_a_soft_slo_does_not_bound_capacity() -> None:
    slos = [*TTFT_SLO, {"metric": "tpot", "statistic": "p90", "max": 0.001, "hard": False}]
    spec = capacity_spec(slos=slos, ladder=[1, 2, 4])

    runs, rounds = search(spec, linear(0.01))

    assert runs == [[1, 2, 4]]
    assert load_plan(spec.benchmark, spec.slos).counted(rounds).capacity == {SHORT: 4}


# --- scoring at the capacity ------------------------------------------------------------------------------


def test_levels_beyond_capacity_are_flagged_and_do_not_make_the_trial_infeasible() -> None:
    spec = capacity_spec()
    _, rounds = search(spec, linear(0.01))

    result = score_trial(spec, rounds, gpus=1)

    assert result.feasible is True
    assert result.capacity == {SHORT: 28}
    assert [(v.concurrency, v.hard, v.beyond_capacity) for v in result.violations] == [(32, True, True)]
    assert "beyond capacity" in result.violations[0].describe()
    assert result.objective_value == pytest.approx(280.0)  # output throughput of the capacity round, not a mean


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        ("output_throughput", 280.0),
        ("output_throughput_per_gpu", 140.0),
        ("total_throughput", 560.0),
        ("total_throughput_per_gpu", 280.0),
        ("capacity", 28.0),
        ("capacity_per_gpu", 14.0),
        ("requests_per_second", 1.0),
    ],
)
def test_each_objective_is_read_at_the_capacity_round(objective: str, expected: float) -> None:
    spec = capacity_spec(objective=objective)
    _, rounds = search(spec, linear(0.01))

    assert score_trial(spec, rounds, gpus=2).value == pytest.approx(expected)


def test_cost_per_million_output_tokens_is_gpu_hours_times_price_at_the_capacity() -> None:
    spec = capacity_spec(objective="cost_per_million_output_tokens", hardware={"gpu_hour_price": 2.5})
    _, rounds = search(spec, linear(0.01))  # 280 tok/s at the capacity

    result = score_trial(spec, rounds, gpus=2)

    assert result.maximize is False
    assert result.value == pytest.approx(2 * 2.5 * 1e6 / 280.0 / 3600.0)
    assert score_trial(spec, rounds, gpus=0).value == pytest.approx(2.5 * 1e6 / 280.0 / 3600.0)  # no GPU: one


def test_the_objective_aggregates_each_scenarios_own_capacity() -> None:
    spec = capacity_spec(objectives=["capacity", "output_throughput"])
    _, short = search(spec, linear(0.01), SHORT)  # capacity 28
    _, long = search(spec, linear(0.02), LONG)  # 0.3 s at 15: ladder to 16, then 12, 14

    result = score_trial(spec, short + long, gpus=1)

    assert result.capacity == {SHORT: 28, LONG: 14}
    assert result.feasible is True
    assert result.objective_scores == pytest.approx([(28 + 14) / 2, (280.0 + 140.0) / 2])


def test_one_scenario_broken_at_its_lowest_level_makes_the_trial_infeasible() -> None:
    spec = capacity_spec()
    _, short = search(spec, linear(0.01), SHORT)
    _, long = search(spec, linear(1.0), LONG)

    result = score_trial(spec, short + long, gpus=1)

    assert result.feasible is False
    assert result.capacity == {SHORT: 28}
    assert [(v.scenario, v.concurrency) for v in result.violations if not v.beyond_capacity] == [(LONG, 1)]


def test_levels_mode_still_makes_any_broken_level_infeasible() -> None:
    spec = make_spec(benchmark={"concurrency": [1, 4, 16]}, slos=TTFT_SLO)
    plan = load_plan(spec.benchmark, spec.slos)
    rounds = [at(1, linear(0.01)), at(4, linear(0.01)), at(16, linear(0.05))]  # 16: 0.8 s

    assert plan.next_levels([]) == [1, 4, 16]
    assert plan.next_levels(rounds) is None
    assert plan.ends_run(rounds) is False
    result = score_trial(spec, rounds, gpus=1)
    assert result.feasible is False
    assert result.capacity == {}
    assert [(v.concurrency, v.beyond_capacity) for v in result.violations] == [(16, False)]
    assert result.objective_value == pytest.approx((10.0 + 40.0 + 160.0) / 3)  # every level counts


# --- early stop -------------------------------------------------------------------------------------------


def test_capacity_mode_stops_a_trial_early_only_when_the_lowest_level_breaks() -> None:
    spec = capacity_spec()
    _, rounds = search(spec, linear(0.01))

    assert early_stop(spec, rounds, len(rounds) - 1, None, gpus=1) is None  # 32 broke beyond capacity: goes on

    stop = early_stop(spec, [at(1, linear(1.0))], 0, None, gpus=1)
    assert stop is not None and stop.pruned is False
    assert stop.reason.startswith("stopped at concurrency 1: hard SLO broken at the lowest level (ttft p90 <= 0.3s)")
