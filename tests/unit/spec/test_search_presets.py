"""Presets in a spec's search space: the merge rule, the errors, and `servetune presets`."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch

import pytest

from tests.support.paths import REPO
from tests.unit.spec.conftest import Refusal
from tuning.cli import main
from tuning.spec import EngineName, TuningSpec
from tuning.spec.loading import SpecError, spec_from_data
from tuning.spec.search_presets import presets, presets_for


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() sets a few variables with os.environ.setdefault; put the environment back afterwards.
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)


def spec(space: dict, engine: str = "vllm", args: dict | None = None) -> TuningSpec:
    return spec_from_data(
        {
            "name": "presets",
            "model": {"path": "/models/m"},
            "engine": {"name": engine, "args": args or {}},
            "search_space": space,
        }
    )


def values(dimension) -> list:
    return dimension.values if dimension.values is not None else [dimension.low, dimension.high]


def test_every_engine_has_the_five_kinds_of_preset_each_named_versioned_and_described() -> None:
    for engine in EngineName:
        names = {preset.name for preset in presets_for(engine.value)}
        kinds = ("throughput", "latency", "memory", "balanced", "comprehensive")
        assert {f"{engine.value}-{kind}" for kind in kinds} <= names
        for preset in presets_for(engine.value):
            assert preset.version and preset.description and preset.entries
    assert len(presets()["vllm-comprehensive"].entries) >= 20
    assert len(presets()["sglang-comprehensive"].entries) >= 15


def test_a_preset_alone_is_its_entries_and_is_recorded_with_its_version() -> None:
    preset = presets()["vllm-throughput"]
    merged = spec({"preset": "vllm-throughput"})
    assert merged.search_space == preset.entries
    assert merged.search_space_presets == [f"vllm-throughput@{preset.version}"]


def test_the_specs_own_entries_replace_extend_and_null_removes() -> None:
    preset = presets()["vllm-throughput"]
    removed = next(flag for flag in preset.entries if flag != "max-num-seqs")
    merged = spec({"preset": "vllm-throughput", "max_num_seqs": [8, 16], "enforce-eager": [False, True], removed: None})
    assert values(merged.search_space["max-num-seqs"]) == [8, 16]  # replaced, under its canonical spelling
    assert values(merged.search_space["enforce-eager"]) == [False, True]  # extended
    assert removed not in merged.search_space  # removed
    untouched = set(preset.entries) - {"max-num-seqs", removed}
    assert {flag: merged.search_space[flag] for flag in untouched} == {f: preset.entries[f] for f in untouched}


def test_two_presets_merge_left_to_right_the_later_winning() -> None:
    first, second = presets()["vllm-latency"], presets()["vllm-memory"]
    shared = set(first.entries) & set(second.entries)
    assert shared, "the test needs two presets with a flag in common"
    merged = spec({"preset": ["vllm-latency", "vllm-memory"]})
    assert set(merged.search_space) == set(first.entries) | set(second.entries)
    for flag in shared:
        assert merged.search_space[flag] == second.entries[flag]
    assert [label.split("@")[0] for label in merged.search_space_presets] == ["vllm-latency", "vllm-memory"]
    reverse = spec({"preset": ["vllm-memory", "vllm-latency"]})
    for flag in shared:
        assert reverse.search_space[flag] == first.entries[flag]


def test_a_flag_fixed_in_engine_args_is_not_varied_by_the_preset() -> None:
    preset = presets()["vllm-comprehensive"]
    assert "enforce-eager" in preset.entries
    merged = spec({"preset": "vllm-comprehensive"}, args={"enforce_eager": True})
    assert "enforce-eager" not in merged.search_space
    assert set(merged.search_space) == set(preset.entries) - {"enforce-eager"}


def test_the_merged_spec_round_trips_through_its_stored_form() -> None:
    merged = spec({"preset": "sglang-latency", "max-running-requests": [4]}, engine="sglang")
    stored = merged.model_dump(mode="json", by_alias=True)
    assert "preset" not in stored["search_space"]
    again = TuningSpec.model_validate(stored)
    assert again.search_space == merged.search_space
    assert again.search_space_presets == merged.search_space_presets


def error_lines(space: dict, engine: str = "vllm", **extra) -> list[str]:
    data = {"name": "p", "model": {"path": "/m"}, "engine": {"name": engine}, "search_space": space, **extra}
    with pytest.raises(SpecError) as caught:
        spec_from_data(data)
    return caught.value.problems


def test_a_preset_for_another_engine_names_the_field_the_value_and_those_that_fit() -> None:
    [line] = error_lines({"preset": "vllm-throughput"}, engine="sglang")
    assert line.startswith("search_space.preset: 'vllm-throughput' is a preset for vllm")
    assert "engine.name is sglang" in line
    for preset in presets_for("sglang"):
        assert preset.name in line
    assert "vllm-latency" not in line


def test_an_unknown_preset_lists_the_known_ones() -> None:
    [line] = error_lines({"preset": ["vllm-latency", "vllm-fastest"]})
    assert line.startswith("search_space.preset: 'vllm-fastest' is not a preset")
    for name in presets():
        assert name in line


@pytest.mark.parametrize(
    ("space", "extra", "expected"),
    [
        ({"max-num-seqs": None}, {}, "search_space.max-num-seqs: null removes a preset's entry, and search_space"),
        ({"preset": "vllm-latency", "no-such": None}, {}, "search_space.no-such: null removes a preset's entry"),
        ({"preset": []}, {}, "search_space.preset: expected a preset name or a list of them"),
        ({"preset": ["vllm-latency", "vllm-latency"]}, {}, "search_space.preset: 'vllm-latency' is named twice"),
        ({"preset": "vllm-latency"}, {"search_space_presets": ["x"]}, "search_space_presets: servetune records it"),
    ],
)
def test_slips_in_the_preset_syntax_are_named(space: dict, extra: dict, expected: str) -> None:
    [line] = error_lines(space, **extra)
    assert line.startswith(expected)


def test_validate_refuses_a_foreign_preset_naming_the_file(refusal: Refusal) -> None:
    err = refusal("name: p\nmodel: {path: /m}\nengine: {name: sglang}\nsearch_space: {preset: vllm-memory}\n")
    assert "invalid spec" in err
    assert "search_space.preset: 'vllm-memory' is a preset for vllm" in err


def test_servetune_presets_lists_each_engines_presets_with_versions_and_entries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["presets", "vllm"]) == 0
    out = capsys.readouterr().out
    shown = presets_for("vllm")
    assert len(shown) >= 4
    for preset in shown:
        assert preset.name in out
        assert f"version {preset.version}" in out
        for flag in preset.entries:
            assert flag in out
    assert "sglang-" not in out
    assert "|" not in out and "**" not in out  # aligned text, not markdown
    assert main(["presets"]) == 0
    everything = capsys.readouterr().out
    assert all(name in everything for name in presets())


def test_the_preset_files_are_package_data() -> None:
    """An installed servetune (not a checkout) must carry its presets."""
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(fnmatch(f"spec/presets/{name}.yaml", glob) for name in presets() for glob in package_data["tuning"])


def test_the_run_form_schema_accepts_presets_and_removals_as_the_spec_does() -> None:
    """Prefect validates run parameters against this schema: a preset spec must pass there as it does here."""
    import jsonschema

    schema = TuningSpec.model_json_schema()
    space = {"preset": ["vllm-latency", "vllm-memory"], "max-num-seqs": [1, 2], "block-size": None}
    jsonschema.validate({"name": "x", "model": {"path": "/m"}, "search_space": space}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "model": {"path": "/m"}, "search_space": {"preset": 3}}, schema)
