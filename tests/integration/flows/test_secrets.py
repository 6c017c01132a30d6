"""A secret never reaches the database, logs, artifacts or Prefect's parameters.

A secret given as an engine flag's value (by the flag's name, or by the value's shape in any flag, search-space
list or engine.env) is refused before anything starts, pointing at engine.pass_env. A secret passed the right way,
by name in engine.pass_env, reaches the engine and genai-bench and nothing that is kept: each test searches
everything a run leaves — every file under SERVETUNE_HOME (the SQLite database, trial folders, engine and genai-bench
logs, results), and the Prefect server's flow-run parameters, logs and artifacts — for the value.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client

from tests.support.standin_runs import standin_spec
from tuning.cli import main


def _secret() -> str:
    return f"hf_{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"  # the shape of a Hugging Face token


def _traces_in_files(folder: Path, secret: str) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


def _traces_in_prefect(secret: str) -> list[str]:
    found = []
    with get_client(sync_client=True) as client:
        for flow_run in client.read_flow_runs(limit=200):
            if secret in json.dumps(flow_run.parameters, default=str):
                found.append(f"parameters of flow run {flow_run.name}")
        if any(secret in log.message for log in client.read_logs(limit=200)):
            found.append("Prefect logs")
        for artifact in client.read_artifacts(limit=200):
            if secret in json.dumps(artifact.data, default=str) or secret in (artifact.description or ""):
                found.append(f"artifact {artifact.key}")
    return found


def _write(spec: dict[str, Any], folder: Path) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize(
    "where",
    ["flag by name", "flag by shape", "search-space value", "engine.env value"],
)
def test_a_secret_given_as_a_value_is_refused_before_anything_starts_and_leaves_no_trace(
    where: str,
    prefect_server: None,
    tiny_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = _secret()
    spec = standin_spec("secret-value", tiny_model, tmp_path, seqs=[2]).model_dump(mode="json")
    if where == "flag by name":
        spec["engine"]["args"] = {"api-key": secret}
    elif where == "flag by shape":
        spec["engine"]["args"] = {"revision": secret}
    elif where == "search-space value":
        spec["search_space"]["lora-modules"] = ["plain", secret]
    else:
        spec["engine"]["env"]["DOWNLOAD_FROM"] = secret
    spec_file = _write(spec, tmp_path)
    home = Path(os.environ["SERVETUNE_HOME"])
    before = set(home.rglob("*"))

    code = main(["tune", str(spec_file)])

    out, err = capsys.readouterr()
    assert code == 2
    assert "engine.pass_env" in err
    assert secret not in out + err
    new = set(home.rglob("*")) - before
    assert [str(p) for p in new if p.is_file() and secret.encode() in p.read_bytes()] == []
    assert _traces_in_prefect(secret) == []


def test_a_secret_passed_by_name_reaches_no_database_log_artifact_or_parameter(
    prefect_server: None, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _secret()
    monkeypatch.setenv("HF_TOKEN", secret)
    home = tmp_path / "home"
    monkeypatch.setenv("SERVETUNE_HOME", str(home))
    spec = standin_spec("secret-by-name", tiny_model, tmp_path, seqs=[2, 4])
    spec = spec.model_copy(update={"engine": spec.engine.model_copy(update={"pass_env": ["HF_TOKEN"]})})
    spec_file = _write(spec.model_dump(mode="json"), tmp_path)

    assert main(["tune", str(spec_file)]) == 0
    assert main(["show", "secret-by-name", "--json"]) == 0

    assert (home / "servetune.db").exists()
    assert _traces_in_files(home, secret) == []
    assert _traces_in_prefect(secret) == []
