"""The docs and examples a user reads are the ones the code agrees with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.paths import REPO
from tuning.cli import main
from tuning.search.space import configurations
from tuning.spec.docs import spec_reference
from tuning.spec.loading import load_spec, spec_from_data


def test_docs_spec_md_is_the_generated_field_reference() -> None:
    committed = (REPO / "docs" / "spec.md").read_text()
    assert committed == spec_reference(), "docs/spec.md is stale: run `servetune spec-docs > docs/spec.md`"


def test_every_spec_field_appears_in_the_reference() -> None:
    from tuning.spec import TuningSpec

    reference = spec_reference()
    for attribute, field in TuningSpec.model_fields.items():
        name = field.alias or attribute  # as a spec writes it
        assert f"`{name}`" in reference
        section = field.annotation
        for sub in getattr(section, "model_fields", {}):
            assert f"`{name}.{sub}`" in reference


def _runs_here(example: Path) -> bool:
    """Whether the example runs its engine on this machine, from the repository's engine env and model."""
    return (yaml.safe_load(example.read_text()).get("deployer") or {}).get("kind", "local") == "local"


EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not _runs_here(e)], ids=lambda p: p.name)
def test_examples_validate(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Docker example's model folder (under ~) is mounted from this machine, so validate wants it to exist."""
    monkeypatch.setenv("HOME", str(tmp_path))
    model = str((yaml.safe_load(example.read_text()).get("model") or {}).get("path", ""))
    if model.startswith("~/"):
        assert main(["validate", str(example)]) == 2
        assert f"model.path: {tmp_path / model[2:]} does not exist" in capsys.readouterr().err
        (tmp_path / model[2:]).mkdir(parents=True)
    assert main(["validate", str(example)]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize("example", [e for e in EXAMPLES if _runs_here(e)], ids=lambda p: p.name)
def test_local_examples_validate_where_make_setup_made_their_engine_and_model(
    example: Path, engine_venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`servetune validate` checks that a local engine's virtualenv and model exist, so these need `make setup`."""
    assert main(["validate", str(example)]) == 0
    assert "valid" in capsys.readouterr().out


def test_quickstart_is_a_grid_of_at_least_four_with_an_slo_and_paths_inside_the_repo() -> None:
    spec = load_spec(REPO / "examples" / "quickstart.yaml")
    assert len(configurations(spec)) >= 4
    assert any(slo.hard for slo in spec.slos)
    assert spec.model.path == str(REPO / ".models" / "tiny-llama")
    assert spec.engine.interpreter == str(REPO / ".venvs" / "vllm-cpu" / "bin" / "python")


def test_prefect_yaml_presets_are_valid_specs_and_each_pool_has_its_trial_deployment() -> None:
    from tuning.runtime.pools import load_pools

    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    presets = [d for d in deployments if d["entrypoint"] == "flows/tune.py:tune"]
    trials = {d["name"]: d["work_pool"]["name"] for d in deployments if d["entrypoint"] == "flows/trial.py:trial"}
    assert {"quickstart", "vllm-throughput", "vllm-latency-slo"} <= {d["name"] for d in presets}
    for deployment in presets:
        spec = spec_from_data(deployment["parameters"]["spec"], base_dir=REPO)
        assert configurations(spec) and spec.name == deployment["name"]
        assert spec.hardware.pool is None or spec.hardware.pool in trials
    pools = [p.name for p in load_pools(REPO / "infra" / "pools.yaml").pools]
    assert trials == {pool: pool for pool in pools}  # trial/<pool>, on that pool
