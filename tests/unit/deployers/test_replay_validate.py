"""`servetune validate` of a replay spec: the surface must exist, read as a surface, and hold every configuration,
traffic scenario and concurrency level the run would ask for; each problem names `deployer.surface`, the value,
and what is accepted, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO
from tuning.cli import main
from tuning.spec.loading import load_spec

RECORDED = REPO / "benchmarks" / "surfaces" / "data" / "tiny-llama-vllm-cpu-48.csv"


def _spec(folder: Path, **changes: Any) -> Path:
    """The demo spec with ``changes`` (``deployer`` merged into its section), written into ``folder``."""
    data = yaml.safe_load((REPO / "examples" / "replay-demo.yaml").read_text())
    data["benchmark"]["concurrency"] = [16]  # the one level RECORDED has
    data["deployer"] |= {"surface": str(RECORDED)} | changes.pop("deployer", {})
    data |= changes
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _validate(spec: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", str(spec)])
    out, err = capsys.readouterr()
    return code, out + err


def test_the_demo_spec_is_valid_and_says_it_replays(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _validate(REPO / "examples" / "replay-demo.yaml", capsys)
    assert code == 0, text
    assert "via the replay deployer" in text


def test_a_missing_surface_is_named_with_its_field_and_what_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _validate(_spec(tmp_path, deployer={"surface": "recorded/none.csv"}), capsys)
    assert code == 2
    # A bare relative path is read from the spec file's folder, not from wherever servetune runs.
    assert f"deployer.surface: {tmp_path / 'recorded' / 'none.csv'} does not exist" in text
    assert "response surface CSV" in text


def test_a_file_that_is_not_a_surface_is_refused_naming_the_missing_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_surface = tmp_path / "prompts.csv"
    not_a_surface.write_text("prompt\nhello\n")
    code, text = _validate(_spec(tmp_path, deployer={"surface": "./prompts.csv"}), capsys)
    assert code == 2
    assert f"deployer.surface: {not_a_surface}: not a surface: columns" in text
    assert "'trial'" in text and "response surface CSV" in text


def test_a_configuration_of_the_search_space_not_in_the_surface_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = {"max-num-seqs": [32, 64], "max-num-batched-tokens": [512, 1024]}
    code, text = _validate(_spec(tmp_path, search_space=space), capsys)
    assert code == 2
    assert f"deployer.surface: {RECORDED}: 2 configuration(s) of the search space are not in the surface" in text
    assert "{'max-num-seqs': 64, 'max-num-batched-tokens': 512}" in text
    assert "{'max-num-seqs': 32, 'max-num-batched-tokens': 512}" not in text


def test_a_parameter_the_surface_does_not_vary_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = {"max-num-seqs": [32], "max-num-batched-tokens": [512], "block-size": [16, 32]}
    code, text = _validate(_spec(tmp_path, search_space=space), capsys)
    assert code == 2
    assert "parameters ['block-size'] are not columns of the surface" in text


def test_a_surface_parameter_fixed_in_engine_args_is_looked_up_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load((REPO / "examples" / "replay-demo.yaml").read_text())
    args = data["engine"]["args"] | {"max-num-batched-tokens": 512}
    spec = _spec(tmp_path, engine={"name": "vllm", "args": args}, search_space={"max-num-seqs": [8, 16]})
    code, text = _validate(spec, capsys)
    assert code == 0, text
    spec = _spec(tmp_path, search_space={"max-num-seqs": [8, 16]})
    code, text = _validate(spec, capsys)
    assert code == 2
    assert "the surface varies ['max-num-batched-tokens'] too; set them in search_space or engine.args" in text


def test_a_concurrency_level_the_surface_did_not_record_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load((REPO / "examples" / "replay-demo.yaml").read_text())
    spec = _spec(tmp_path, benchmark=data["benchmark"] | {"concurrency": [16, 32]})
    code, text = _validate(spec, capsys)
    assert code == 2
    assert "traffic scenario D(100,100) at concurrency 32 is not in the surface" in text
    assert "recorded D(100,100) at 16" in text
    assert "at concurrency 16 is not" not in text


def test_a_traffic_scenario_the_surface_did_not_record_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load((REPO / "examples" / "replay-demo.yaml").read_text())
    spec = _spec(
        tmp_path, benchmark=data["benchmark"] | {"concurrency": [16], "traffic_scenarios": ["D(100,100)", "D(400,50)"]}
    )
    code, text = _validate(spec, capsys)
    assert code == 2
    assert "traffic scenario D(400,50) at concurrency 16 is not in the surface" in text


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("noise", -0.1, "deployer.replay.noise"),
        ("ready_seconds", -1, "deployer.replay.ready_seconds"),
        ("surface", "", "deployer.replay.surface"),
    ],
)
def test_replay_settings_out_of_range_are_refused_by_name(
    tmp_path: Path, field: str, value: object, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _validate(_spec(tmp_path, deployer={field: value}), capsys)
    assert code == 2
    assert expected in text


def test_the_surface_path_is_read_from_the_spec_folder(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, deployer={"surface": "data/x.csv"}))
    assert spec.deployer.kind == "replay"
    assert getattr(spec.deployer, "surface", None) == str(tmp_path / "data" / "x.csv")


def test_measuring_the_defaults_needs_a_surface_that_recorded_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _validate(_spec(tmp_path, measure_defaults=True), capsys)
    assert code == 2
    assert "measure_defaults: true, but" in text and "no rounds of the engine's defaults" in text
    assert "set measure_defaults: false" in text
