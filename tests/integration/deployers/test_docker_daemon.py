"""The Docker deployer's settings and `servetune sweep` against a real Docker Engine API (podman's service).

What podman cannot show (GPU device requests, which it ignores; pulls, with no registry reachable) is checked
against the stand-in daemon in test_docker_deployer.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deployers import DeployError, DockerDeployer, EngineLabels
from deployers._docker import LABEL_LABEL, LABEL_LOG
from deployers._labels import OWNER
from tests.support.podman import Podman
from tuning.spec import TuningSpec


def _dead_owner() -> str:
    """host/pid of a process of this machine that has ended."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}/{ended.stdout.strip()}"


def _spec(podman: Podman, model: Path, **deployer: Any) -> TuningSpec:
    return TuningSpec.model_validate(
        {
            "name": "daemon",
            "model": {"path": str(model), "served_name": "tiny"},
            "engine": {"args": {"max-model-len": 512}},
            "deployer": {
                "kind": "docker",
                "image": podman.engine_image,
                "pull": "never",
                "docker_host": podman.url,
                "mounts": podman.engine_mounts,
                "stop_grace": 1,
                **deployer,
            },
            "search_space": {"max-num-seqs": [2]},
        }
    )


def _sleeping_container(podman: Podman, labels: dict[str, str]) -> str:
    client = podman.client()
    try:
        # As PID 1, a bare `sleep` would ignore docker stop's SIGTERM and wait out the sweep's grace period.
        command = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"]
        container = client.containers.run(podman.engine_image, command, labels=labels, detach=True)
        return str(container.name)
    finally:
        client.close()


def _sweep(podman: Podman, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": podman.url}
    return subprocess.run(
        [sys.executable, "-m", "tuning.cli", "sweep", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_default_host_ipc_is_accepted_by_the_daemon_and_private_ipc_gets_its_shm_size(
    podman: Podman, tiny_model: Path, tmp_path: Path
) -> None:
    for number, settings in enumerate([{}, {"ipc_mode": "private", "shm_size": "256m"}]):
        deployer = DockerDeployer(_spec(podman, tiny_model, **settings))
        deployment = deployer.deploy("ipc", number, {"max-num-seqs": 2}, tmp_path / f"trial-{number}")
        try:
            client = podman.client()
            inspected = client.api.inspect_container(deployment.handle.container)  # type: ignore[attr-defined]
            client.close()
            # podman 4.3 reports every IPC mode as "shareable"; the namespace of the container's process says which.
            ipc = os.readlink(f"/proc/{inspected['State']['Pid']}/ns/ipc")
        finally:
            deployer.teardown(deployment)
        if settings:
            assert ipc != os.readlink("/proc/self/ns/ipc")
            assert inspected["HostConfig"]["ShmSize"] == 256 * 1024**2
        else:
            assert ipc == os.readlink("/proc/self/ns/ipc")
    assert podman.containers(OWNER) == []


def test_a_missing_mount_folder_is_named_before_any_container_exists(
    podman: Podman, tiny_model: Path, tmp_path: Path
) -> None:
    deployer = DockerDeployer(_spec(podman, tiny_model, mounts={str(tmp_path / "no-such"): "/opt/engine"}))

    assert deployer.missing_files() == [
        f"deployer.mounts.{tmp_path / 'no-such'}: {tmp_path / 'no-such'} does not exist on this machine "
        "(a folder to mount into the container)"
    ]
    with pytest.raises(DeployError, match="does not exist"):
        deployer.deploy("mount", 0, {"max-num-seqs": 2}, tmp_path / "trial-0")
    assert podman.containers(OWNER) == []


def test_sweep_removes_a_dead_runs_container_keeping_its_log_and_leaves_a_live_owners(
    podman: Podman, tmp_path: Path
) -> None:
    log = tmp_path / "trial-000" / "engine.log"
    log.parent.mkdir()
    orphan = EngineLabels(run_id="crashed", trial_number=0, owner=_dead_owner())
    live = EngineLabels(run_id="running", trial_number=0)  # this test's process: alive
    orphan_name = _sleeping_container(podman, orphan.as_dict() | {LABEL_LABEL: orphan.name, LABEL_LOG: str(log)})
    live_name = _sleeping_container(podman, live.as_dict() | {LABEL_LABEL: live.name})
    try:
        swept = _sweep(podman, "--kind", "docker")

        assert swept.returncode == 0, swept.stderr
        assert swept.stdout.strip() == "docker: removed servetune/crashed/trial-0"
        assert podman.containers(OWNER) == [live_name]
        assert log.exists(), f"{orphan_name}'s output was not saved"
    finally:
        client = podman.client()
        for container in client.containers.list(all=True, filters={"label": [OWNER]}):
            container.remove(force=True)
        client.close()


def test_sweep_of_one_run_removes_its_containers_even_with_a_live_owner(podman: Podman) -> None:
    mine = EngineLabels(run_id="to-stop", trial_number=3)
    _sleeping_container(podman, mine.as_dict() | {LABEL_LABEL: mine.name})

    swept = _sweep(podman, "--kind", "docker", "--run", "to-stop")

    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.strip() == "docker: removed servetune/to-stop/trial-3"
    assert podman.containers(OWNER) == []


def test_a_daemon_that_does_not_answer_fails_a_sweep_asked_for_it_and_is_skipped_otherwise(
    podman: Podman, tmp_path: Path
) -> None:
    gone = f"unix://{tmp_path / 'no-daemon.sock'}"
    env = {**os.environ, "DOCKER_HOST": gone}
    argv = [sys.executable, "-m", "tuning.cli", "sweep"]

    asked = subprocess.run([*argv, "--kind", "docker"], capture_output=True, text=True, env=env, timeout=120)
    every = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)

    assert asked.returncode == 1 and "docker: not swept" in asked.stderr and "may still be running" in asked.stderr
    assert every.returncode == 0 and "docker: not swept" in every.stdout
    assert "Traceback" not in asked.stderr + every.stderr


def test_an_unknown_kind_is_refused_naming_the_kinds(podman: Podman) -> None:
    swept = _sweep(podman, "--kind", "kubernetes")

    assert swept.returncode == 2
    assert "'kubernetes' is not a deployer kind; use one of local, docker, ome" in swept.stderr
