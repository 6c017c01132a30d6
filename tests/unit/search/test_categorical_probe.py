"""The fair test a categorical value gets before the GP may write it off (tuning/search/samplers/categorical_probe)."""

from __future__ import annotations

from typing import Any

import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial, create_trial

from tuning.search.samplers.categorical_probe import categorical_probe
from tuning.search.samplers.constraints import CONSTRAINTS_ATTR, FAILED_ATTR

SPACE = {
    "tensor-parallel-size": IntDistribution(0, 2),  # positions of [1, 2, 4]
    "kv-cache-dtype": CategoricalDistribution(["auto", "fp8"]),
}


def _trial(tp: int, kv: str, value: float, excess: float, failed: bool = False) -> FrozenTrial:
    attrs: dict[str, Any] = {CONSTRAINTS_ATTR: [excess]}
    if failed:
        attrs[FAILED_ATTR] = True
    return create_trial(
        params={"tensor-parallel-size": tp, "kv-cache-dtype": kv},
        distributions=SPACE,
        value=value,
        user_attrs=attrs,
    )


def _untried(trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    tried = {(t.params["tensor-parallel-size"], t.params["kv-cache-dtype"]) for t in trials}
    return [
        {"tensor-parallel-size": tp, "kv-cache-dtype": kv}
        for tp in range(3)
        for kv in ("auto", "fp8")
        if (tp, kv) not in tried
    ]


def _probe(trials: list[FrozenTrial], maximize: bool = True) -> dict[str, Any] | None:
    return categorical_probe(trials, SPACE, _untried(trials), maximize)


def test_a_value_seen_only_in_broken_configurations_is_tried_beside_the_best_feasible_one() -> None:
    # fp8 was measured only at tp 1 (TTFT SLO broken) and tp 4 (failed to start); auto runs within the SLOs only at
    # tp 2. Nothing measured says what fp8 does where auto runs.
    trials = [
        _trial(0, "fp8", 60.0, 3.0),
        _trial(2, "fp8", 40.0, 1.0, failed=True),
        _trial(1, "auto", 100.0, -0.3),
        _trial(0, "auto", 50.0, 0.5),
    ]
    assert _probe(trials) == {"tensor-parallel-size": 1, "kv-cache-dtype": "fp8"}


def test_the_best_feasible_configuration_follows_the_direction() -> None:
    trials = [_trial(0, "fp8", 60.0, 3.0), _trial(1, "auto", 100.0, -0.3), _trial(2, "auto", 90.0, -0.5)]
    # Minimising (a latency, a cost), tp 4 at 90 is the best feasible configuration.
    assert _probe(trials, maximize=False) == {"tensor-parallel-size": 2, "kv-cache-dtype": "fp8"}


@pytest.mark.parametrize(("excess", "failed"), [(0.2, False), (1.0, True)], ids=["broke-the-slo", "failed-to-start"])
def test_a_value_measured_beside_a_feasible_configuration_has_had_its_test_even_when_it_broke(
    excess: float, failed: bool
) -> None:
    trials = [
        _trial(0, "fp8", 60.0, 3.0),
        _trial(1, "auto", 100.0, -0.3),
        _trial(1, "fp8", 95.0, excess, failed),  # the fair test: only the dtype differs from a feasible configuration
    ]
    assert _probe(trials) is None


def test_a_value_that_ran_within_the_slos_somewhere_needs_no_test() -> None:
    trials = [_trial(0, "fp8", 60.0, -0.1), _trial(1, "auto", 100.0, -0.3)]
    assert _probe(trials) is None


def test_nothing_is_probed_before_any_configuration_met_the_slos() -> None:
    trials = [_trial(0, "fp8", 60.0, 3.0), _trial(1, "auto", 100.0, 0.4)]
    assert _probe(trials) is None


def test_a_failed_configuration_is_not_a_feasible_one_whatever_its_told_constraints() -> None:
    # A failure keeps no measured constraints of its own when the spec has no hard SLO; it is still not feasible.
    trials = [_trial(0, "fp8", 60.0, 3.0), _trial(1, "auto", 100.0, -1.0, failed=True)]
    assert _probe(trials) is None
