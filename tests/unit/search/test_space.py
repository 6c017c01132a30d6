"""The search space: which configurations a spec's dimensions expand to, and in what order."""

import pytest
import yaml

from tests.support.factories import make_spec
from tuning.cli import main
from tuning.search.space import SearchSpaceError, configurations


def spec_of(search_space, max_trials=None):
    strategy = {} if max_trials is None else {"strategy": {"name": "grid", "max_trials": max_trials}}
    return make_spec("unit", search_space=search_space, **strategy)


def values_of(dimension):
    return [config["knob"] for config in configurations(spec_of({"knob": dimension}))]


def test_grid_varies_the_first_dimension_slowest():
    spec = spec_of({"max-num-seqs": [1, 8], "block-size": [16, 32, 64]})

    assert configurations(spec) == [
        {"max-num-seqs": 1, "block-size": 16},
        {"max-num-seqs": 1, "block-size": 32},
        {"max-num-seqs": 1, "block-size": 64},
        {"max-num-seqs": 8, "block-size": 16},
        {"max-num-seqs": 8, "block-size": 32},
        {"max-num-seqs": 8, "block-size": 64},
    ]


def test_listed_values_are_tried_in_the_order_written_with_their_types():
    values = values_of([True, 4, 0.5, "lpm"])

    assert [(type(v), v) for v in values] == [(bool, True), (int, 4), (float, 0.5), (str, "lpm")]


def test_int_range_with_step_includes_both_ends():
    values = values_of({"low": 256, "high": 1024, "step": 256})

    assert values == [256, 512, 768, 1024]
    assert all(type(v) is int for v in values)


def test_int_range_without_step_walks_every_integer():
    assert values_of({"low": 1, "high": 4}) == [1, 2, 3, 4]


def test_int_range_stops_at_the_last_step_not_above_high():
    assert values_of({"low": 1, "high": 10, "step": 4}) == [1, 5, 9]


def test_single_point_range_gives_one_value():
    assert values_of({"low": 8, "high": 8}) == [8]


@pytest.mark.parametrize(
    ("low", "high", "step", "expected"),
    [
        (0.1, 0.3, 0.1, [0.1, 0.2, 0.3]),
        (0.8, 0.95, 0.05, [0.8, 0.85, 0.9, 0.95]),
        (0.5, 2.5, 1, [0.5, 1.5, 2.5]),
    ],
)
def test_float_range_with_step_includes_high_when_a_step_lands_on_it(low, high, step, expected):
    values = values_of({"low": low, "high": high, "step": step})

    assert values == pytest.approx(expected)
    assert values[-1] <= high
    assert all(type(v) is float for v in values)


def test_float_range_stops_below_high_when_no_step_lands_on_it():
    values = values_of({"low": 0.5, "high": 0.95, "step": 0.2})

    assert values == pytest.approx([0.5, 0.7, 0.9])


@pytest.mark.parametrize(
    "dimension",
    [
        {"low": 0.5, "high": 0.9},
        {"low": 1, "high": 1024, "log": True},
    ],
    ids=["float range without step", "log range"],
)
def test_ranges_the_grid_cannot_walk_are_errors_naming_the_dimension(dimension):
    spec = spec_of({"max-num-seqs": [1, 2], "gpu-memory-utilization": dimension})

    with pytest.raises(SearchSpaceError, match=r"search_space\.gpu-memory-utilization"):
        configurations(spec)


def test_validate_reports_an_unwalkable_range_with_exit_code_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    path = tmp_path / "spec.yaml"
    data = {
        "name": "unit",
        "model": {"path": "/models/tiny"},
        "search_space": {"gpu-memory-utilization": {"low": 0.5, "high": 0.9}},
        "strategy": {"name": "grid"},  # unset, a range the grid cannot walk gets a sampler
    }
    path.write_text(yaml.safe_dump(data))

    code = main(["validate", str(path)])

    assert code == 2
    assert "search_space.gpu-memory-utilization" in capsys.readouterr().err


def test_max_trials_caps_the_grid_keeping_grid_order():
    spec = spec_of({"max-num-seqs": [1, 8], "block-size": [16, 32]}, max_trials=3)

    assert configurations(spec) == [
        {"max-num-seqs": 1, "block-size": 16},
        {"max-num-seqs": 1, "block-size": 32},
        {"max-num-seqs": 8, "block-size": 16},
    ]


def test_max_trials_above_grid_size_runs_the_whole_grid():
    spec = spec_of({"max-num-seqs": [1, 8]}, max_trials=50)

    assert len(configurations(spec)) == 2


@pytest.mark.parametrize("max_trials", [None, 1, 5])
def test_empty_search_space_runs_exactly_one_configuration_with_engine_defaults(max_trials):
    spec = spec_of({}, max_trials=max_trials)

    assert configurations(spec) == [{}]


def test_a_grid_too_large_to_run_is_refused():
    spec = spec_of({"a": {"low": 1, "high": 1000}, "b": {"low": 1, "high": 1000}})

    with pytest.raises(SearchSpaceError, match="search_space"):
        configurations(spec)
