"""What every deployer leaves on an engine to say whose it is, and what stops an engine nobody tore down.

Each deployer runs its real code path: the local one starts a real process (a stand-in engine that only
sleeps), Docker and OME talk to the stand-in daemon and API server in tests/support.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from deployers import DockerDeployer, EngineLabels, LocalDeployer, LocalHandle, OmeDeployer
from deployers._labels import OWNER, RUN, TRIAL
from deployers._ome_manifest import label_value
from tests.support.docker_standin import DockerStandIn
from tests.support.kube_standin import KubeStandIn
from tests.support.paths import REPO
from tuning.runtime import process_group
from tuning.spec import TuningSpec

IMAGE = "vllm/vllm-openai:v0.11.0"


def make_spec(model: Path, deployer: dict[str, Any], engine: dict[str, Any] | None = None) -> TuningSpec:
    return TuningSpec.model_validate(
        {
            "name": "ownership",
            "model": {"path": str(model), "served_name": "tiny"},
            "engine": {"args": {"max-model-len": 512}, **(engine or {})},
            "deployer": deployer,
            "search_space": {"max-num-seqs": [2, 4]},
        }
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def sleeping_engine(tmp_path: Path) -> Path:
    """An 'interpreter' that ignores the engine's argv and sleeps: a local engine that stays up until stopped."""
    script = tmp_path / "engine-python"
    script.write_text("#!/bin/sh\nsleep 300\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def docker_standin() -> Iterator[DockerStandIn]:
    with DockerStandIn() as daemon:
        daemon.images.add(IMAGE)
        yield daemon


@pytest.fixture
def kube_standin() -> Iterator[KubeStandIn]:
    server = KubeStandIn().start()
    yield server
    server.stop()


def test_every_deployer_labels_its_engine_with_the_same_keys_and_owner(
    model_dir: Path, sleeping_engine: Path, docker_standin: DockerStandIn, kube_standin: KubeStandIn, tmp_path: Path
) -> None:
    expected = EngineLabels(run_id="run1", trial_number=3, owner=process_group.owner_id())
    assert expected.owner.endswith(f"/{os.getpid()}")

    local = LocalDeployer(make_spec(model_dir, {"kind": "local", "stop_grace": 2}, {"python": str(sleeping_engine)}))
    deployment = local.deploy("run1", 3, {}, tmp_path / "local")
    try:
        assert isinstance(deployment.handle, LocalHandle)
        label = process_group.label_of(deployment.handle.pgid)
        assert label is not None
        assert EngineLabels.from_process_label(label) == expected
    finally:
        local.teardown(deployment)

    client = docker.DockerClient(base_url=docker_standin.url, version="1.43")
    in_docker = DockerDeployer(make_spec(model_dir, {"kind": "docker", "image": IMAGE}), client=client)
    deployment = in_docker.deploy("run1", 3, {}, tmp_path / "docker")
    try:
        (created,) = docker_standin.created()
        assert {RUN, TRIAL, OWNER} <= set(created["Labels"])
        assert EngineLabels.from_dict(created["Labels"]) == expected
    finally:
        in_docker.teardown(deployment)

    ome_settings = {"kind": "ome", "namespace": "servetune", "base_model": "m", "serving_runtime": "r"}
    on_kubernetes = OmeDeployer(
        make_spec(model_dir, ome_settings | {"in_cluster": True}), api_client=kube_standin.api_client()
    )
    deployment = on_kubernetes.deploy("run1", 3, {}, tmp_path / "ome")
    try:
        metadata = kube_standin.created[0]["metadata"]
        labels, annotations = metadata["labels"], metadata["annotations"]
        assert {RUN, TRIAL, OWNER} <= set(labels)
        # A label value cannot hold the owner's "/": the label is escaped, the annotation exact.
        assert labels[OWNER] == label_value(expected.owner)
        assert EngineLabels.from_dict(labels, owner=annotations[OWNER]) == expected
    finally:
        on_kubernetes.teardown(deployment)


_DEPLOY_AND_EXIT = """
import sys
from pathlib import Path

from deployers import LocalDeployer
from tuning.spec import TuningSpec

spec = TuningSpec.model_validate({
    "name": "left-running",
    "model": {"path": sys.argv[1], "served_name": "tiny"},
    "engine": {"python": sys.argv[2]},
    "deployer": {"kind": "local", "stop_grace": 2},
    "search_space": {"max-num-seqs": [2]},
})
deployment = LocalDeployer(spec).deploy("run1", 0, {}, Path(sys.argv[3]))
print(deployment.handle.pgid, deployment.label, flush=True)
# No teardown: the interpreter exits with the engine still registered.
"""


def test_the_exit_hook_stops_an_engine_the_flow_did_not_tear_down(
    model_dir: Path, sleeping_engine: Path, tmp_path: Path
) -> None:
    script = textwrap.dedent(_DEPLOY_AND_EXIT)
    done = subprocess.run(
        [sys.executable, "-c", script, str(model_dir), str(sleeping_engine), str(tmp_path / "trial-0")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    pgid_text, label = done.stdout.split()
    pgid = int(pgid_text)
    try:
        deadline = time.monotonic() + 10
        while process_group.is_running(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_group.is_running(pgid), "the engine outlived the process that started it"
        assert process_group.labelled(label) == {}
    finally:
        process_group.stop(pgid, label, grace=1)


def test_genai_bench_beside_a_container_carries_its_owner_so_another_runs_sweep_leaves_it(
    model_dir: Path, sleeping_engine: Path, docker_standin: DockerStandIn, tmp_path: Path
) -> None:
    """A run on Docker starts genai-bench on this machine; another run starting here sweeps local orphans. The
    benchmark must read as owned by a live process, or the other run's sweep stops it mid-round (found when two
    test workers ran a Docker run and a local run at once)."""
    client = docker.DockerClient(base_url=docker_standin.url, version="1.43")
    in_docker = DockerDeployer(make_spec(model_dir, {"kind": "docker", "image": IMAGE}), client=client)
    deployment = in_docker.deploy("dockerrun", 1, {}, tmp_path / "docker")
    label = deployment.helper_label("genai-bench")
    benchmark = process_group.start([str(sleeping_engine)], tmp_path / "bench.log", {}, label)
    try:
        assert EngineLabels.from_process_label(label) == EngineLabels(run_id="dockerrun", trial_number=1)
        other_run = LocalDeployer(make_spec(model_dir, {"kind": "local", "stop_grace": 2}))
        assert label not in other_run.sweep()
        assert process_group.is_running(benchmark)
    finally:
        process_group.stop(benchmark, label, 2.0)
        in_docker.teardown(deployment)
