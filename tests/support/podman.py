"""A real Docker Engine API for the tests: podman's API service, started for the test session and stopped after.

`make test` installs podman (`make podman`). The service gets its own storage and socket under a temporary
folder, so a test session neither sees nor leaves containers or images anywhere else. The engine image is built
here with no registry (infra/podman/Containerfile.engine): busybox plus links, with the vLLM CPU virtualenv,
its interpreter and the host's /usr mounted read-only when a container starts (`deployer.mounts`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.support.paths import REPO
from tuning.runtime import process_group

INFRA = REPO / "infra" / "podman"
ENGINE_IMAGE = "localhost/servetune-vllm-cpu:test"
_READY_SECONDS = 30.0
_PROGRAMS = ("podman", "runc", "busybox")
_LABEL = "servetune-test-podman"


@dataclass(frozen=True)
class Podman:
    """The running service: its address for the docker SDK and `DOCKER_HOST`, and what the engine image needs."""

    url: str
    root: Path
    engine_image: str
    engine_mounts: dict[str, str]

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url)

    def containers(self, label: str) -> list[str]:
        """Names of every container carrying ``label`` (a key, or key=value), running or not."""
        client = self.client()
        try:
            found = client.containers.list(all=True, filters={"label": [label]}, ignore_removed=True)
        finally:
            client.close()
        return sorted(str(container.name) for container in found)


def _podman_argv(root: Path) -> list[str]:
    return ["podman", "--root", str(root / "storage"), "--runroot", str(root / "run")]


def _env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(INFRA / "containers.conf")}


def _wait_for_ping(url: str, pgid: int, log_path: Path) -> None:
    deadline = time.monotonic() + _READY_SECONDS
    while time.monotonic() < deadline:
        if not process_group.is_running(pgid):
            pytest.fail(f"podman's API service exited at start:\n{process_group.tail(log_path)}")
        if Path(url.removeprefix("unix://")).exists() and _answers_ping(url):
            return
        time.sleep(0.1)
    pytest.fail(f"podman's API service did not answer /_ping within {_READY_SECONDS:.0f} s")


def _answers_ping(url: str) -> bool:
    try:
        # The client asks /version as it is made: a service still starting on a loaded machine can time that out too.
        client = docker.DockerClient(base_url=url, timeout=2)
    except (docker.errors.DockerException, OSError):
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False
    finally:
        client.close()


def _engine_mounts(engine_venv: Path) -> dict[str, str]:
    """The host folders the engine needs in the container: /usr, the venv and the interpreter it was made from."""
    base = subprocess.run(
        [str(engine_venv / "bin" / "python"), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folders = dict.fromkeys(("/usr", str(engine_venv), base))
    return {folder: folder for folder in folders}


def _build_engine_image(root: Path, engine_venv: Path) -> None:
    context = root / "image"
    context.mkdir()
    shutil.copy(shutil.which("busybox") or "/bin/busybox", context / "busybox")
    (context / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    argv = [
        *_podman_argv(root),
        "build",
        "--quiet",
        "--file",
        str(INFRA / "Containerfile.engine"),
        "--build-arg",
        f"ENGINE_BIN={engine_venv / 'bin'}",
        "--tag",
        ENGINE_IMAGE,
        str(context),
    ]
    built = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=300)
    if built.returncode != 0:
        pytest.fail(f"building the engine image failed:\n{built.stderr[-2000:]}")


@contextmanager
def podman_service(root: Path, engine_venv: Path) -> Iterator[Podman]:
    """podman's API service on a socket under ``root``, with the engine image built; stopped on exit."""
    missing = [program for program in _PROGRAMS if shutil.which(program) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: `make podman` installs podman, runc and busybox-static")
    root.mkdir(parents=True, exist_ok=True)
    url = f"unix://{root / 'podman.sock'}"
    log_path = root / "service.log"
    argv = [*_podman_argv(root), "system", "service", "--time=0", url]
    pgid = process_group.start(argv, log_path, _env(), label=_LABEL)
    try:
        _wait_for_ping(url, pgid, log_path)
        _build_engine_image(root, engine_venv)
        yield Podman(url=url, root=root, engine_image=ENGINE_IMAGE, engine_mounts=_engine_mounts(engine_venv))
    finally:
        # The storage is this session's alone; a container a failed test left must not outlive it.
        subprocess.run([*_podman_argv(root), "rm", "--all", "--force", "--time", "0"], capture_output=True, env=_env())
        process_group.stop(pgid, _LABEL, grace=10)
