"""How the spec's search space reaches Optuna, and the GP sampler that scores every untried configuration."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.support.factories import make_spec
from tuning.search.optuna_space import OptunaSpace
from tuning.search.study import Search
from tuning.spec import TuningSpec


def _spec(strategy: dict, space: dict) -> TuningSpec:
    return make_spec("space-test", search_space=space, strategy=strategy)


def test_a_list_of_numbers_reaches_the_sampler_as_ordered_positions_and_comes_back_as_values() -> None:
    spec = _spec({"name": "tpe"}, {"max-num-seqs": [16, 4, 64], "kv-cache-dtype": ["auto", "fp8"], "eager": [True]})
    space = OptunaSpace(spec.search_space, walk_grid=False)
    assert space.distributions["max-num-seqs"] == IntDistribution(0, 2)
    assert space.distributions["kv-cache-dtype"] == CategoricalDistribution(["auto", "fp8"])
    # Sorted, so position 1 lies between the values of positions 0 and 2 whatever order the spec lists them in.
    assert space.configuration({"max-num-seqs": 1, "kv-cache-dtype": "fp8", "eager": True}) == {
        "max-num-seqs": 16,
        "kv-cache-dtype": "fp8",
        "eager": True,
    }
    assert space.params({"max-num-seqs": 64, "kv-cache-dtype": "auto", "eager": True})["max-num-seqs"] == 2


def test_booleans_and_mixed_lists_stay_categorical_and_ranges_keep_step_and_log() -> None:
    spec = _spec(
        {"name": "gp"},
        {
            "enable-chunked-prefill": [True, False],
            "kv-cache-dtype": ["auto", 8],
            "gpu-memory-utilization": {"low": 0.8, "high": 0.95, "step": 0.05},
            "max-num-seqs": {"low": 8, "high": 512, "log": True},
        },
    )
    space = OptunaSpace(spec.search_space, walk_grid=False)
    assert isinstance(space.distributions["enable-chunked-prefill"], CategoricalDistribution)
    assert isinstance(space.distributions["kv-cache-dtype"], CategoricalDistribution)
    assert space.distributions["gpu-memory-utilization"] == FloatDistribution(0.8, 0.95, step=0.05)
    assert space.distributions["max-num-seqs"] == IntDistribution(8, 512, log=True)


def test_the_grid_walks_exact_values() -> None:
    spec = _spec({"name": "grid"}, {"max-num-seqs": [4, 16]})
    assert OptunaSpace(spec.search_space, walk_grid=True).distributions["max-num-seqs"] == CategoricalDistribution(
        [4, 16]
    )


def test_a_study_created_with_categoricals_is_resumed_with_them(database_url: str) -> None:
    """A run stored before numeric lists became positions asks as it did, instead of failing on the change."""
    spec = _spec({"name": "tpe", "max_trials": 3, "seed": 0}, {"max-num-seqs": [4, 8, 16]})
    old = optuna.create_study(study_name="older-encoding", storage=database_url)
    old.enqueue_trial({"max-num-seqs": 8})
    trial = old.ask({"max-num-seqs": CategoricalDistribution([4, 8, 16])})
    old.tell(trial, 1.0)

    search = Search(spec, "older-encoding", database_url)
    assert isinstance(search.distributions["max-num-seqs"], CategoricalDistribution)
    _number, params = search.ask()
    assert params["max-num-seqs"] in (4, 8, 16)
    assert search.measured({"max-num-seqs": 8}) is not None


def test_a_configuration_measured_under_positions_is_found_again_by_its_values(database_url: str) -> None:
    spec = _spec({"name": "random", "max_trials": 5, "seed": 3}, {"max-num-seqs": [4, 8, 16, 32]})
    search = Search(spec, "positions-measured", database_url)
    number, params = search.ask()
    search.tell_value(number, 10.0, [])
    assert search.study.trials[number].params["max-num-seqs"] == [4, 8, 16, 32].index(params["max-num-seqs"])
    assert search.measured(params).number == number
    again = search.ask_confirmation(params, number)
    assert search.space.configuration(search.study.trials[again].params) == params


@pytest.mark.parametrize("hard_slo", [False, True])
def test_gp_never_asks_a_configuration_it_already_tried_until_all_are_tried(database_url: str, hard_slo: bool) -> None:
    """On a 3 x 3 grid, nine asks are the nine configurations, whether or not a constraint is in play."""
    spec = _spec(
        {"name": "gp", "max_trials": 9, "seed": 0},
        {"max-num-seqs": [2, 4, 8], "max-num-batched-tokens": [64, 128, 256]},
    )
    search = Search(spec, f"gp-untried-{hard_slo}", database_url)
    asked = []
    while (next_ := search.ask()) is not None:
        number, params = next_
        asked.append((params["max-num-seqs"], params["max-num-batched-tokens"]))
        # A smooth surface with its peak at (8, 128), and a latency limit broken by the largest batches.
        value = -abs(params["max-num-seqs"] - 8) - abs(params["max-num-batched-tokens"] - 128) / 32
        search.tell_value(number, value, [1.0 if hard_slo and params["max-num-batched-tokens"] == 256 else -1.0])
    assert len(asked) == 9
    assert len(set(asked)) == 9


def test_gp_on_a_continuous_range_still_uses_optunas_own_optimizer(database_url: str) -> None:
    spec = _spec({"name": "gp", "max_trials": 6, "seed": 0}, {"gpu-memory-utilization": {"low": 0.5, "high": 0.95}})
    search = Search(spec, "gp-continuous", database_url)
    values = []
    while (next_ := search.ask()) is not None:
        number, params = next_
        values.append(params["gpu-memory-utilization"])
        search.tell_value(number, -((params["gpu-memory-utilization"] - 0.8) ** 2), [])
    assert len(values) == 6 and all(0.5 <= v <= 0.95 for v in values)


def test_a_random_draw_gives_values_the_spec_allows_and_reaches_every_listed_value() -> None:
    """The draw a settled search falls back on: within each range and step, log ranges included."""
    spec = _spec(
        {"name": "tpe"},
        {
            "max-num-seqs": [2, 8, 32],
            "max-num-batched-tokens": {"low": 64, "high": 4096, "log": True},
            "block-size": {"low": 16, "high": 64, "step": 16},
            "gpu-memory-utilization": {"low": 0.5, "high": 0.9, "step": 0.1},
            "swap-space": {"low": 0.5, "high": 8.0, "log": True},
            "kv-cache-dtype": ["auto", "fp8"],
        },
    )
    space = OptunaSpace(spec.search_space, walk_grid=False)
    draws = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = [space.configuration(space.draw(draws)) for _ in range(300)]
    for config in drawn:
        assert config["max-num-seqs"] in (2, 8, 32) and config["kv-cache-dtype"] in ("auto", "fp8")
        assert 64 <= config["max-num-batched-tokens"] <= 4096
        assert config["block-size"] in (16, 32, 48, 64)
        assert 0.5 <= config["gpu-memory-utilization"] <= 0.9 + 1e-9
        assert round((config["gpu-memory-utilization"] - 0.5) / 0.1, 6).is_integer()
        assert 0.5 <= config["swap-space"] <= 8.0
    assert {c["max-num-seqs"] for c in drawn} == {2, 8, 32} and {c["block-size"] for c in drawn} == {16, 32, 48, 64}
    # Log-uniform: about half the draws fall below the geometric middle, 512.
    assert 0.35 < sum(c["max-num-batched-tokens"] < 512 for c in drawn) / len(drawn) < 0.65
