"""The search on Optuna: strategies, storage beside servetune's tables, constraints, failures, repeats."""

from __future__ import annotations

import pytest
import sqlalchemy
from optuna.trial import TrialState as OptunaTrialState

from tests.support.factories import make_spec
from tuning.search.known import KnownResult
from tuning.search.study import CONSTRAINTS_ATTR, FAILED_ATTR, Search
from tuning.spec import TuningSpec


def _spec(strategy: dict, space: dict, slos: list[dict] | None = None) -> TuningSpec:
    return make_spec("search-test", search_space=space, strategy=strategy, slos=slos or [])


def _drain(search: Search, value_of=lambda params: 1.0) -> list[dict]:
    asked = []
    while (next_ := search.ask()) is not None:
        number, params = next_
        asked.append(params)
        search.tell_value(number, value_of(params), [])
    return asked


def test_grid_walks_every_configuration_in_order_then_stops(database_url: str) -> None:
    spec = _spec({"name": "grid"}, {"max-num-seqs": [1, 8], "enforce-eager": [True, False]})
    search = Search(spec, "grid-order", database_url)
    assert _drain(search) == [
        {"max-num-seqs": 1, "enforce-eager": True},
        {"max-num-seqs": 1, "enforce-eager": False},
        {"max-num-seqs": 8, "enforce-eager": True},
        {"max-num-seqs": 8, "enforce-eager": False},
    ]
    assert search.ask() is None


def test_the_study_lives_in_the_same_database_as_servetunes_tables(database_url: str) -> None:
    from tuning.store import Store

    Store(database_url)
    Search(_spec({"name": "grid"}, {"max-num-seqs": [1]}), "same-db", database_url)
    tables = set(sqlalchemy.inspect(sqlalchemy.create_engine(database_url)).get_table_names())
    assert {"tuning_run", "trial", "benchmark_round", "studies", "trials"} <= tables


def test_random_draws_typed_values_within_the_ranges_and_respects_the_budget(database_url: str) -> None:
    spec = _spec(
        {"name": "random", "max_trials": 12, "seed": 1},
        {
            "max-num-seqs": {"low": 8, "high": 256, "log": True},
            "gpu-memory-utilization": {"low": 0.5, "high": 0.9, "step": 0.1},
            "schedule-policy": ["fcfs", "lpm"],
            "enforce-eager": [True, False],
        },
    )
    asked = _drain(Search(spec, "random-types", database_url))
    assert len(asked) == 12
    for params in asked:
        assert type(params["max-num-seqs"]) is int and 8 <= params["max-num-seqs"] <= 256
        assert type(params["gpu-memory-utilization"]) is float and 0.5 <= params["gpu-memory-utilization"] <= 0.9
        assert params["schedule-policy"] in ("fcfs", "lpm")
        assert type(params["enforce-eager"]) is bool


def test_samplers_default_to_twenty_trials() -> None:
    assert _spec({"name": "tpe"}, {"max-num-seqs": [1, 2]}).strategy.budget(0) == 20


def test_a_failed_trial_is_told_as_failed_not_as_infinity(database_url: str) -> None:
    search = Search(_spec({"name": "grid"}, {"max-num-seqs": [1, 2]}), "failed", database_url)
    number, _ = search.ask()
    search.tell_failed(number)
    frozen = search.study.trials[number]
    assert frozen.state is OptunaTrialState.FAIL and frozen.values is None


def test_hard_slo_constraints_are_stored_for_the_sampler(database_url: str) -> None:
    search = Search(_spec({"name": "tpe", "seed": 0}, {"max-num-seqs": [1, 2, 4]}), "constraints", database_url)
    number, _ = search.ask()
    search.tell_value(number, 100.0, [0.25])
    assert search.study.trials[0].user_attrs[CONSTRAINTS_ATTR] == [0.25]


@pytest.mark.parametrize("strategy", ["tpe", "gp"])
def test_learning_samplers_find_the_best_feasible_configuration_with_slos_as_constraints(
    database_url: str, strategy: str
) -> None:
    """Throughput rises with max-num-seqs, but past 40 the latency SLO breaks: the best feasible is 40."""
    spec = _spec({"name": strategy, "max_trials": 30, "seed": 3}, {"max-num-seqs": {"low": 1, "high": 64}})
    search = Search(spec, f"{strategy}-constrained", database_url)
    feasible = []
    while (next_ := search.ask()) is not None:
        number, params = next_
        seqs = params["max-num-seqs"]
        search.tell_value(number, float(seqs), [(seqs - 40) / 40])
        if seqs <= 40:
            feasible.append(seqs)
    assert max(feasible) >= 38
    late = [t.params["max-num-seqs"] for t in search.study.trials[15:]]
    assert sum(s > 40 for s in late) < len(late) / 2, f"{strategy} should learn to stay out of the infeasible region"


def test_a_repeated_configuration_reuses_its_result_without_spending_the_budget(database_url: str) -> None:
    """Two configurations and a budget of six: the sampler repeats itself, each repeat is recognised and told the
    earlier result, the budget counts only the two that ran, and once the sampler has settled with nothing left
    to measure, the search ends."""
    from tuning.spec import SETTLED_AFTER_REPEATS

    search = Search(
        _spec({"name": "random", "max_trials": 6, "seed": 0}, {"enforce-eager": [True, False]}), "repeats", database_url
    )
    seen: dict[bool, int] = {}
    asked = []
    while (next_ := search.ask()) is not None:
        number, params = next_
        earlier = search.measured(params)
        asked.append(earlier is not None)
        if params["enforce-eager"] in seen:
            assert earlier is not None and earlier.number == seen[params["enforce-eager"]]
            search.tell_repeat(number, earlier)
        else:
            assert earlier is None
            seen[params["enforce-eager"]] = number
            search.tell_value(number, 1.0 if params["enforce-eager"] else 2.0, [])
    assert len(seen) == 2 and search.spent == 2 and search.exhausted
    assert asked[-SETTLED_AFTER_REPEATS:] == [True] * SETTLED_AFTER_REPEATS
    assert sum(not repeat for repeat in asked) == 2
    for trial in search.study.trials:
        assert trial.value == (1.0 if trial.params["enforce-eager"] else 2.0)  # a repeat carries the earlier result


def test_after_a_run_of_repeats_the_next_configuration_is_one_not_measured_yet(database_url: str) -> None:
    from tuning.spec import SETTLED_AFTER_REPEATS

    search = Search(
        _spec({"name": "tpe", "max_trials": 4, "seed": 0}, {"max-num-seqs": [1, 2, 4, 8]}), "settled", database_url
    )
    number, first = search.ask()
    search.tell_value(number, 1.0, [])
    for _ in range(SETTLED_AFTER_REPEATS):  # a sampler stuck on its first configuration
        search.study.enqueue_trial(search.space.params(first))
        number, params = search.ask()
        search.tell_repeat(number, search.measured(params))
    number, params = search.ask()
    assert search.measured(params) is None and params != first
    search.tell_value(number, 2.0, [])
    assert search.spent == 2 and not search.exhausted


def test_a_sampler_that_keeps_finding_new_configurations_runs_the_whole_budget(database_url: str) -> None:
    search = Search(
        _spec({"name": "random", "max_trials": 5, "seed": 0}, {"max-num-seqs": {"low": 1, "high": 10**6}}),
        "no-repeats",
        database_url,
    )
    assert len(_drain(search)) == 5 and search.spent == 5 and not search.exhausted


def test_the_median_pruner_stops_a_trial_whose_score_so_far_trails_earlier_ones(database_url: str) -> None:
    """The trial side reports through a Reporter rebuilt from storage, as a trial in another process would."""
    from tuning.search.study import Reporter, study_name

    spec = _spec({"name": "random", "max_trials": 5, "seed": 0, "pruner": "median"}, {"max-num-seqs": [1, 2, 4, 8]})
    search = Search(spec, study_name("prune-run"), database_url)
    for value in (100.0, 110.0):
        number, _ = search.ask()
        reporter = Reporter(spec, "prune-run", number, database_url)
        reporter.report(value, 0)
        assert not reporter.should_prune()
        search.tell_value(number, value, [])
    number, _ = search.ask()
    poor = Reporter(spec, "prune-run", number, database_url)
    poor.report(10.0, 0)
    assert poor.should_prune()
    search.tell_pruned(number)
    assert search.study.trials[number].state is OptunaTrialState.PRUNED


def test_without_a_pruner_no_trial_is_pruned(database_url: str) -> None:
    from tuning.search.study import Reporter, study_name

    spec = _spec({"name": "random", "max_trials": 3, "seed": 0}, {"max-num-seqs": [1, 2]})
    search = Search(spec, study_name("no-prune"), database_url)
    for value in (100.0, 110.0, 1.0):
        number, _ = search.ask()
        reporter = Reporter(spec, "no-prune", number, database_url)
        reporter.report(value, 0)
        assert not reporter.should_prune()
        search.tell_value(number, value, [])


def test_the_defaults_are_measured_outside_the_budget_and_kept_from_the_sampler(database_url: str) -> None:
    """The defaults are asked while the grid's points wait in the queue: they must not take one of them. And a
    completed trial without the searched flags would blind GP and multivariate TPE to the space."""
    spec = _spec({"name": "grid"}, {"max-num-seqs": [1, 8], "enforce-eager": [True, False]})
    search = Search(spec, "defaults-outside", database_url, measure_defaults=True)
    defaults = search.defaults
    assert defaults == 0
    assert len(_drain(search)) == 4  # every grid point, none lost to the defaults
    search.tell_value(defaults, 3.0, [])
    assert search.spent == 4

    again = search.ask_confirmation({}, defaults)
    search.tell_value(again, 2.5, [])
    confirm = search.ask_confirmation({"max-num-seqs": 1, "enforce-eager": False}, 2)
    assert search.space.configuration(search.study.trials[confirm].params) == {
        "max-num-seqs": 1,
        "enforce-eager": False,
    }
    search.tell_value(confirm, 1.0, [])

    trials = search.study.get_trials(deepcopy=False)
    measured_defaults = [t for t in trials if not t.params and t.state is not OptunaTrialState.WAITING]
    assert [t.number for t in measured_defaults] == [defaults, again]
    assert all(t.state is OptunaTrialState.FAIL for t in measured_defaults)
    assert [t.user_attrs["servetune_values"] for t in measured_defaults] == [[3.0], [2.5]]
    complete = search.study.get_trials(deepcopy=False, states=(OptunaTrialState.COMPLETE,))
    assert all(t.params for t in complete) and len(complete) == 5
    assert search.spent == 4


# One hard SLO: a configuration that cannot run is told it broke it.
TTFT_SLO = {"metric": "ttft", "max": 1.0}


def test_a_far_broken_slo_is_told_bounded_below_a_failure_and_kept_as_measured(database_url: str) -> None:
    """One configuration far past an SLO must not outweigh the rest in the GP's constraint model."""
    search = Search(_spec({"name": "grid"}, {"max-num-seqs": [1, 2, 4]}, [TTFT_SLO]), "told", database_url)
    far, _ = search.ask()
    search.tell_value(far, 10.0, [4.0])  # a TTFT five times the limit
    near, _ = search.ask()
    search.tell_value(near, 12.0, [-0.1])
    failed, _ = search.ask()
    search.tell_infeasible(failed)
    told = {n: search.study.trials[n].constraints["0"] for n in (far, near, failed)}
    assert 0.99 < told[far] < told[failed] == 1.0
    assert told[near] == pytest.approx(-0.1, abs=0.001)
    # What reports show is the measured excess.
    assert search.study.trials[far].user_attrs[CONSTRAINTS_ATTR] == [4.0]


def test_gp_tries_a_categorical_value_seen_only_in_broken_configurations_beside_the_best_one(database_url: str) -> None:
    """An fp8 KV cache measured only at tensor-parallel 1, where the TTFT SLO breaks: rather than write fp8 off, the
    GP next measures the best configuration that met the SLOs with fp8."""
    space = {"tensor-parallel-size": [1, 2, 4], "max-num-seqs": [16, 32, 64], "kv-cache-dtype": ["auto", "fp8"]}
    search = Search(_spec({"name": "gp", "seed": 0}, space, [TTFT_SLO]), "fair-test", database_url)

    def known(tp: int, seqs: int, kv: str, value: float, excess: float) -> KnownResult:
        params = {"tensor-parallel-size": tp, "max-num-seqs": seqs, "kv-cache-dtype": kv}
        return KnownResult(params, [value], [excess], excess <= 0, "earlier run")

    search.learn(
        [
            known(1, 64, "fp8", 60.0, 3.0),
            known(1, 16, "fp8", 30.0, 2.0),
            known(1, 32, "auto", 40.0, 2.5),
            known(2, 32, "auto", 100.0, -0.3),
            known(4, 64, "auto", 90.0, -0.5),
        ]
    )
    _, params = search.ask()
    assert params == {"tensor-parallel-size": 2, "max-num-seqs": 32, "kv-cache-dtype": "fp8"}


def test_a_configuration_that_failed_is_taught_as_infeasible_and_never_reused(database_url: str) -> None:
    search = Search(_spec({"name": "grid"}, {"max-num-seqs": [1, 2, 4, 8]}, [TTFT_SLO]), "infeasible", database_url)
    first, _ = search.ask()
    search.tell_value(first, 7.0, [-1.0])
    number, params = search.ask()
    search.tell_infeasible(number)
    frozen = search.study.trials[number]
    # COMPLETE, so samplers learn from it: no better than anything measured, and breaking the hard SLO.
    assert frozen.state is OptunaTrialState.COMPLETE and frozen.value == 7.0
    assert frozen.user_attrs[FAILED_ATTR] is True and frozen.constraints == {"0": 1.0}
    assert search.measured(params) is None  # asked again, it runs again rather than reusing a failure as a score


def _trials_to_the_boundary(database_url: str, name: str, teach: bool) -> int:
    """A GP search over max-num-seqs 1..20 where the score rises with it and 11 and up fail to start (out of
    memory): trials until it has measured the best that runs, 10, right at the failure boundary."""
    spec = _spec({"name": "gp", "seed": 0}, {"max-num-seqs": list(range(1, 21))}, [TTFT_SLO])
    search = Search(spec, name, database_url)
    for trials in range(1, 21):
        number, params = search.ask()
        if params["max-num-seqs"] == 10:
            return trials
        if params["max-num-seqs"] > 10:
            if teach:
                search.tell_infeasible(number)
            else:
                search.tell_failed(number)
        else:
            search.tell_value(number, float(params["max-num-seqs"]), [-1.0])
    return 21


def test_failures_teach_the_search_where_configurations_cannot_run(database_url: str) -> None:
    taught = _trials_to_the_boundary(database_url, "taught", teach=True)
    untaught = _trials_to_the_boundary(database_url, "untaught", teach=False)
    # Told only FAIL, the model extrapolates the rising score into the failing region and runs it first.
    assert taught < untaught
