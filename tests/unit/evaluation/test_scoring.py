"""Scoring benchmark rounds against the objective and SLOs, and picking the best trial."""

import math

import pytest

from tests.support.factories import round_metrics
from tuning.evaluation.ranking import best_trial
from tuning.evaluation.scoring import ScoringError, score
from tuning.spec import ObjectiveSpec, SLOSpec
from tuning.store import Trial

THROUGHPUT = ObjectiveSpec(metric="output_throughput")
TTFT_P90 = ObjectiveSpec(metric="ttft", statistic="p90")


def ttft_slo(limit, hard=True, penalty=1.0):
    return SLOSpec(metric="ttft", statistic="p90", max=limit, hard=hard, penalty=penalty)


# --- objective direction and aggregation ---------------------------------------------------------------


def test_higher_throughput_scores_higher():
    fast = score([round_metrics(output_throughput=200.0)], [THROUGHPUT], [])
    slow = score([round_metrics(output_throughput=100.0)], [THROUGHPUT], [])

    assert fast.maximize is True
    assert fast.value > slow.value


def test_lower_ttft_is_better_and_minimized():
    quick = score([round_metrics(ttft_p90=0.1)], [TTFT_P90], [])
    sluggish = score([round_metrics(ttft_p90=0.4)], [TTFT_P90], [])

    assert quick.maximize is False
    assert quick.value < sluggish.value
    assert quick.value == pytest.approx(0.1)


def test_mean_aggregate_averages_the_rounds():
    rounds = [
        round_metrics(concurrency=1, output_throughput=100.0),
        round_metrics(concurrency=4, output_throughput=300.0),
    ]

    assert score(rounds, [THROUGHPUT], []).value == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("objective", "field", "values", "worst"),
    [
        (ObjectiveSpec(metric="output_throughput", aggregate="worst"), "output_throughput", [100.0, 300.0], 100.0),
        (ObjectiveSpec(metric="ttft", aggregate="worst"), "ttft_p90", [0.1, 0.5], 0.5),
    ],
    ids=["throughput", "ttft"],
)
def test_worst_aggregate_picks_the_round_that_is_worst_in_the_objectives_direction(objective, field, values, worst):
    rounds = [round_metrics(concurrency=c, **{field: v}) for c, v in zip((1, 4), values, strict=True)]

    assert score(rounds, [objective], []).value == pytest.approx(worst)


def test_throughput_per_gpu_divides_by_the_gpu_count():
    objective = ObjectiveSpec(metric="output_throughput_per_gpu")

    assert score([round_metrics(output_throughput=400.0)], [objective], [], gpus=4).value == pytest.approx(100.0)


# --- hard SLOs ---------------------------------------------------------------------------------------


def test_hard_slo_broken_in_one_round_is_infeasible_even_when_the_mean_meets_it():
    rounds = [round_metrics(concurrency=1, ttft_p90=0.5), round_metrics(concurrency=4, ttft_p90=1.5)]
    assert sum(r.ttft_p90 for r in rounds) / len(rounds) <= 1.2  # the average alone would pass

    result = score(rounds, [THROUGHPUT], [ttft_slo(1.2)])

    assert result.feasible is False
    assert [(v.concurrency, v.observed, v.hard) for v in result.violations] == [(4, 1.5, True)]


def test_hard_slo_met_in_every_round_is_feasible_and_unpenalized():
    rounds = [round_metrics(concurrency=1, ttft_p90=0.5), round_metrics(concurrency=4, ttft_p90=1.0)]

    result = score(rounds, [THROUGHPUT], [ttft_slo(1.0)])

    assert result.feasible is True
    assert result.violations == []
    assert result.value == result.objective_value


def test_error_rate_slo_with_max_0_rejects_any_failed_request():
    slo = SLOSpec(metric="error_rate", max=0)
    clean = [round_metrics(concurrency=1), round_metrics(concurrency=4)]
    one_failure = [round_metrics(concurrency=1), round_metrics(concurrency=4, error_rate=0.05, num_failed=1)]

    assert score(clean, [THROUGHPUT], [slo]).feasible is True
    assert score(one_failure, [THROUGHPUT], [slo]).feasible is False


def test_soft_error_rate_slo_with_max_0_penalizes_with_a_finite_score():
    slo = SLOSpec(metric="error_rate", max=0, hard=False)

    result = score([round_metrics(error_rate=0.05)], [THROUGHPUT], [slo])

    assert result.feasible is True
    assert math.isfinite(result.value)
    assert 0 < result.value < result.objective_value


# --- soft SLOs ---------------------------------------------------------------------------------------


def test_soft_penalty_lowers_a_throughput_score():
    result = score([round_metrics(ttft_p90=1.5)], [THROUGHPUT], [ttft_slo(1.0, hard=False)])

    assert result.feasible is True
    assert result.value < result.objective_value


def test_soft_penalty_raises_a_latency_score():
    objective = ObjectiveSpec(metric="e2e_latency", statistic="p90")

    result = score([round_metrics(ttft_p90=1.5, e2e_latency_p90=2.0)], [objective], [ttft_slo(1.0, hard=False)])

    assert result.feasible is True
    assert result.value > result.objective_value


@pytest.mark.parametrize("objective", [THROUGHPUT, TTFT_P90], ids=["throughput", "ttft"])
def test_soft_penalty_is_zero_at_the_limit_and_continuous_just_past_it(objective):
    limit = 0.5
    at_limit = score([round_metrics(ttft_p90=limit)], [objective], [ttft_slo(limit, hard=False)])
    just_past = score([round_metrics(ttft_p90=limit * (1 + 1e-9))], [objective], [ttft_slo(limit, hard=False)])

    assert at_limit.value == at_limit.objective_value
    assert at_limit.penalty == 0
    assert just_past.value == pytest.approx(just_past.objective_value, rel=1e-6)


@pytest.mark.parametrize("objective", [THROUGHPUT, ObjectiveSpec(metric="tpot")], ids=["throughput", "tpot"])
def test_soft_penalty_grows_with_the_excess(objective):
    def penalized(ttft):
        return score([round_metrics(ttft_p90=ttft)], [objective], [ttft_slo(1.0, hard=False)]).value

    values = [penalized(t) for t in (1.0, 1.2, 1.5, 3.0)]

    ordered = sorted(values, reverse=objective.maximize)
    assert values == ordered
    assert len(set(values)) == len(values)


def test_larger_penalty_weight_punishes_more():
    rounds = [round_metrics(ttft_p90=1.5)]

    light = score(rounds, [THROUGHPUT], [ttft_slo(1.0, hard=False, penalty=0.5)])
    heavy = score(rounds, [THROUGHPUT], [ttft_slo(1.0, hard=False, penalty=5.0)])

    assert heavy.value < light.value < light.objective_value


# --- refusals ----------------------------------------------------------------------------------------


def test_no_rounds_is_a_scoring_error():
    with pytest.raises(ScoringError):
        score([], [THROUGHPUT], [])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_objective_is_a_scoring_error_not_a_score(bad):
    with pytest.raises(ScoringError):
        score([round_metrics(ttft_p90=bad)], [TTFT_P90], [])
    with pytest.raises(ScoringError):
        score([round_metrics(), round_metrics(concurrency=4, output_throughput=bad)], [THROUGHPUT], [])


def test_nan_slo_measurement_does_not_pass_a_hard_slo():
    rounds = [round_metrics(concurrency=1), round_metrics(concurrency=4, ttft_p90=math.nan)]

    try:
        result = score(rounds, [THROUGHPUT], [ttft_slo(1.0)])
    except ScoringError:
        return
    assert result.feasible is False


# --- best trial --------------------------------------------------------------------------------------


def trial(number, score_value, state="succeeded", feasible=True):
    return Trial(run_id="run", number=number, params={}, state=state, feasible=feasible, score=score_value)


def test_best_trial_ignores_infeasible_and_failed_trials_with_better_scores():
    trials = [
        trial(0, 100.0),
        trial(1, 900.0, feasible=False),
        trial(2, 800.0, state="failed", feasible=None),
        trial(3, 700.0, state="timed_out", feasible=None),
        trial(4, 150.0),
    ]

    assert best_trial(trials, maximize=True).number == 4


def test_best_trial_respects_the_direction():
    trials = [trial(0, 0.3), trial(1, 0.1), trial(2, 0.2)]

    assert best_trial(trials, maximize=False).number == 1
    assert best_trial(trials, maximize=True).number == 0


def test_best_trial_is_none_when_no_trial_qualifies():
    trials = [
        trial(0, 900.0, feasible=False),
        trial(1, None, state="failed", feasible=None),
        trial(2, None, state="running", feasible=None),
    ]

    assert best_trial(trials, maximize=True) is None
    assert best_trial([], maximize=True) is None
