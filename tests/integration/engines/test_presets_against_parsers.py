"""Every preset shipped with servetune is accepted by its engine's own parser, as `servetune validate` checks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployers.engines._flags import flag_problems
from tuning.cli import main
from tuning.spec.loading import spec_from_data
from tuning.spec.search_presets import presets

pytest_plugins = ["tests.support.engine_envs"]


@pytest.fixture
def python_for(request: pytest.FixtureRequest):
    def python(engine: str) -> str:
        return str(request.getfixturevalue(f"{engine}_python"))

    return python


@pytest.mark.engine
@pytest.mark.parametrize("name", sorted(presets()))
def test_every_preset_fits_its_installed_engine(name: str, python_for) -> None:
    preset = presets()[name]
    engine = preset.engine.value
    spec = spec_from_data(
        {
            "name": "preset-check",
            "model": {"path": "/models/m"},
            "engine": {"name": engine, "python": python_for(engine)},
            "search_space": {"preset": name},
            "strategy": {"name": "random"},  # a comprehensive preset's grid is too large to walk
        }
    )
    problems, flags, note = flag_problems(spec)
    assert note is None and flags is not None
    assert problems == [], f"{name}@{preset.version} does not fit {flags.label}"


def test_validate_shows_the_merged_space_of_a_preset_spec(
    vllm_python: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"name: p\nmodel: {{path: {tmp_path}}}\nengine: {{name: vllm, python: {vllm_python}}}\n"
        "search_space: {preset: vllm-throughput, max-num-seqs: [8, 16]}\nstrategy: {name: grid}\n"
    )
    assert main(["validate", str(spec)]) == 0
    out = capsys.readouterr().out
    preset = presets()["vllm-throughput"]
    assert f"search space: preset(s) vllm-throughput@{preset.version} merged with the spec's own entries:" in out
    assert "  max-num-seqs: 8, 16\n" in out
    for flag in preset.entries:
        assert f"  {flag}: " in out
    sizes = [len(d.values or []) for f, d in preset.entries.items() if f != "max-num-seqs"]
    expected = 2
    for size in sizes:
        expected *= size
    assert f"strategy grid: {expected} configuration(s)" in out
