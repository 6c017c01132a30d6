"""The strategy a spec gets when it names none: the grid when the budget covers it, else the suite's best."""

from __future__ import annotations

import pytest

from tests.support.factories import make_spec
from tuning.spec import StrategyName, TuningSpec

# 5 x 5 = 25 configurations: more than the samplers' default budget of 20.
LARGE = {"max-num-seqs": [8, 16, 32, 64, 128], "max-num-batched-tokens": [512, 1024, 2048, 4096, 8192]}


def test_a_grid_the_budget_covers_is_walked_and_a_larger_one_is_searched_with_gp() -> None:
    assert make_spec(search_space={"max-num-seqs": [2, 4, 8]}).strategy.name is StrategyName.grid
    assert make_spec(search_space=LARGE).strategy.name is StrategyName.gp
    assert make_spec(search_space=LARGE, strategy={"max_trials": 25}).strategy.name is StrategyName.grid
    # A range the grid cannot walk, or a warm start (which a grid refuses), gets the sampler too.
    assert make_spec(search_space={"gpu-memory-utilization": {"low": 0.5, "high": 0.9}}).strategy.name == "gp"
    warm = make_spec(search_space={"max-num-seqs": [2, 4]}, warm_start={"mode": "candidates"})
    assert warm.strategy.name is StrategyName.gp


def test_a_strategy_the_spec_names_is_kept_and_the_chosen_one_survives_a_round_trip() -> None:
    assert make_spec(search_space=LARGE, strategy={"name": "grid"}).strategy.name is StrategyName.grid
    assert make_spec(search_space={"max-num-seqs": [2]}, strategy={"name": "random"}).strategy.name == "random"
    chosen = make_spec(search_space=LARGE, strategy={"seed": 3})
    again = TuningSpec.model_validate(chosen.model_dump(mode="json", exclude_unset=True))
    assert (again.strategy.name, again.strategy.seed) == (StrategyName.gp, 3)


def test_without_the_gp_extra_the_default_sampler_is_tpe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tuning.spec._tuning.gp_installed", lambda: False)
    assert make_spec(search_space=LARGE).strategy.name is StrategyName.tpe
    assert make_spec(search_space={"max-num-seqs": [2, 4, 8]}).strategy.name is StrategyName.grid
