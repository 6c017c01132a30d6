"""The engine in a Docker container: the engine image, a free port on 127.0.0.1, GPUs by device id.

Every container carries labels naming its run, its trial and its owner (host/PID), so a later run can find
and remove what a crashed one left behind. Teardown saves the container's output to the trial's
``engine.log`` and then removes the container, always.

Secrets named in ``engine.pass_env`` reach the container's environment and nothing else: the argv shown to
users and stored with the trial names them (``-e HF_TOKEN``) without their values, and engine output and
error messages are scrubbed of them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import DeviceRequest, Mount

from deployers import _live_engines
from deployers._base import Deployer, DeployError, Deployment, EngineHandle, TransientDeployError, missing_paths
from deployers._labels import OWNER, RUN, EngineLabels
from tuning.runtime import process_group
from tuning.runtime.network import free_port, no_proxy_env
from tuning.spec import Configuration, DockerDeployerSpec, ModelSpec, TuningSpec

log = logging.getLogger(__name__)

# Beside the run, trial and owner every deployer writes (deployers._labels): what a sweep reports and where
# it saves the container's output.
LABEL_LABEL = "servetune.label"
LABEL_LOG = "servetune.log"

LOOPBACK = "127.0.0.1"
# Proxy addresses are passed by name (they may carry credentials); NO_PROXY is computed and shown.
_PROXY_URLS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
_NO_PROXY = ("NO_PROXY", "no_proxy")
# Shorter values ("1", "on") would scrub ordinary words out of logs and messages.
_MIN_SECRET_LENGTH = 4
_PORT_TAKEN = ("port is already allocated", "address already in use")


class DockerHandle(EngineHandle):
    """The engine's container on the Docker host."""

    kind: Literal["docker"] = "docker"
    container: str
    name: str

    @property
    def key(self) -> str:
        return f"docker/{self.container}"


@dataclass
class _Run:
    """One container's settings, from which both the Engine API request and the ``docker run`` argv are made."""

    server_args: list[str]
    env: dict[str, str]
    passed: list[str]
    mounts: list[tuple[str, str]]
    host_port: int | None
    devices: list[str] | None
    gpus: int
    labels: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    preview: bool = False


class DockerDeployer(Deployer):
    kind: ClassVar[str] = "docker"
    sweep_defaults: ClassVar[dict[str, Any]] = {"image": "servetune/sweep"}  # never pulled: a sweep only lists

    def __init__(self, spec: TuningSpec, client: docker.DockerClient | None = None) -> None:
        super().__init__(spec)
        if client is not None:
            self.__dict__["client"] = client

    @property
    def settings(self) -> DockerDeployerSpec:
        assert isinstance(self.spec.deployer, DockerDeployerSpec)
        return self.spec.deployer

    @cached_property
    def client(self) -> docker.DockerClient:
        """The daemon's client, made on first use: `servetune validate` never needs a daemon."""
        with self._docker_errors("connect to the Docker daemon"):
            if self.settings.docker_host:
                return docker.DockerClient(base_url=self.settings.docker_host)
            return docker.from_env()

    # ----- what the container gets

    def _mounts(self) -> tuple[ModelSpec, str | None, list[tuple[str, str]]]:
        """The model as the engine sees it, its path in the container, and (host, container) read-only mounts."""
        model, root = self.spec.model, self.settings.model_mount.rstrip("/")
        mounts: list[tuple[str, str]] = list(self.settings.mounts.items())
        model_path = None
        if os.path.isabs(model.path):
            model_path = f"{root}/{Path(model.path).name}"
            mounts.append((model.path, model_path))
        tokenizer = model.tokenizer
        if tokenizer and os.path.isabs(tokenizer):
            if tokenizer == model.path:
                model = model.model_copy(update={"tokenizer": model_path})
            else:
                target = f"{root}/tokenizer-{Path(tokenizer).name}"
                mounts.append((tokenizer, target))
                model = model.model_copy(update={"tokenizer": target})
        return model, model_path, mounts

    def _environment(self, devices: list[str] | None) -> tuple[dict[str, str], list[str]]:
        """Variables shown with their values, and the names passed from servetune's environment (values hidden)."""
        shown = {k: os.environ[k] for k in _NO_PROXY if k in os.environ}
        shown |= self.engine.env() | self.spec.engine.env
        shown = no_proxy_env(shown, [LOOPBACK])
        names = dict.fromkeys((*_PROXY_URLS, *self.spec.engine.pass_env))
        passed = [name for name in names if name in os.environ and name not in shown]
        if devices is not None and "CUDA_VISIBLE_DEVICES" in (*shown, *passed):
            raise DeployError(
                "CUDA_VISIBLE_DEVICES is set for the engine, but Docker gives the container its GPUs "
                f"({','.join(devices)}), renumbered from 0; remove it from engine.env / engine.pass_env"
            )
        return shown, passed

    def _secrets(self) -> list[str]:
        names = (*_PROXY_URLS, *self.spec.engine.pass_env)
        values = {os.environ[n] for n in names if len(os.environ.get(n, "")) >= _MIN_SECRET_LENGTH}
        return sorted(values, key=len, reverse=True)

    def _redact(self, text: str) -> str:
        for value in self._secrets():
            text = text.replace(value, "***")
        return text

    def _run(self, params: Configuration, devices: list[str] | None, host_port: int | None) -> _Run:
        model, model_path, mounts = self._mounts()
        if self.settings.network == "host":
            host, port = LOOPBACK, host_port or self.settings.container_port
        else:
            host, port = "0.0.0.0", self.settings.container_port
        env, passed = self._environment(devices)
        return _Run(
            server_args=self.engine.server_args(model, params, host, port, model_path=model_path),
            env=env,
            passed=passed,
            mounts=mounts,
            host_port=host_port,
            devices=devices,
            gpus=self.engine.gpu_count(params),
        )

    def _create_args(self, run: _Run) -> dict[str, Any]:
        settings = self.settings
        args: dict[str, Any] = {
            "image": settings.image_name,
            "entrypoint": list(self.engine.container_launcher),
            "command": run.server_args,
            "name": run.name,
            "labels": run.labels,
            "environment": run.env | {name: os.environ[name] for name in run.passed},
            # Built, not inherited: no proxies from ~/.docker/config.json beyond what the command shows.
            "use_config_proxy": False,
            "network_mode": settings.network,
            "ipc_mode": settings.ipc_mode,
            "mounts": [Mount(target, source, type="bind", read_only=True) for source, target in run.mounts],
        }
        if settings.shm_size is not None:
            args["shm_size"] = settings.shm_size
        if settings.network == "bridge":
            args["ports"] = {f"{settings.container_port}/tcp": (LOOPBACK, run.host_port)}
        if run.devices is not None:
            args["device_requests"] = [DeviceRequest(device_ids=list(run.devices), capabilities=[["gpu"]])]
        return args

    def _docker_run_argv(self, run: _Run) -> list[str]:
        """The same container as a ``docker run`` command: what users see and what is stored with the trial."""
        settings = self.settings
        argv = ["docker", *(["--host", settings.docker_host] if settings.docker_host else []), "run", "--detach"]
        if run.name:
            argv += ["--name", run.name]
        for key, value in run.labels.items():
            argv += ["--label", f"{key}={value}"]
        if run.devices is not None:
            argv += ["--gpus", f'"device={",".join(run.devices)}"']
        elif run.preview:
            argv += ["--gpus", str(run.gpus)]  # the allocator chooses the devices at deploy time
        if settings.network == "host":
            argv += ["--network", "host"]
        else:
            argv += ["--publish", f"{LOOPBACK}:{run.host_port or ''}:{settings.container_port}"]
        argv += ["--ipc", settings.ipc_mode]
        if settings.shm_size is not None:
            argv += ["--shm-size", settings.shm_size]
        for source, target in run.mounts:
            argv += ["--mount", f"type=bind,source={source},target={target},readonly"]
        for key, value in run.env.items():
            argv += ["--env", f"{key}={value}"]
        for name in run.passed:
            argv += ["--env", name]  # docker takes the value from the caller's environment
        launcher = self.engine.container_launcher
        return [*argv, "--entrypoint", launcher[0], settings.image_name, *launcher[1:], *run.server_args]

    def preview_command(self, params: Configuration) -> list[str]:
        run = self._run(params, None, None)
        run.preview = True
        return self._docker_run_argv(run)

    def missing_files(self) -> list[str]:
        # The daemon runs on this machine (the engine is reached at 127.0.0.1), so its bind mounts are local paths.
        mounts = {f"deployer.mounts.{source}": source for source in self.settings.mounts}
        return self._missing_model_files() + missing_paths(mounts, "a folder to mount into the container")

    # ----- errors

    @contextlib.contextmanager
    def _docker_errors(self, action: str) -> Iterator[None]:
        """Docker's failures as deploy errors that say what failed, scrubbed of secret values."""
        where = self.settings.docker_host or os.environ.get("DOCKER_HOST") or "the local socket"
        try:
            yield
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
            raise DeployError(f"could not {action}: the Docker daemon at {where} does not answer") from None
        except APIError as exc:
            text = self._redact(str(exc.explanation or exc))
            if any(sign in text for sign in _PORT_TAKEN):
                raise TransientDeployError(f"could not {action}: {text}") from None
            raise DeployError(f"could not {action}: {text}") from None
        except DockerException as exc:
            raise DeployError(f"could not {action} ({where}): {self._redact(str(exc))}") from None

    # ----- the image

    def _ensure_image(self) -> None:
        settings = self.settings
        if settings.pull != "always":
            with self._docker_errors(f"look up image {settings.image}"):
                try:
                    self.client.images.get(settings.image_name)
                    return
                except ImageNotFound:
                    if settings.pull == "never":
                        raise DeployError(
                            f"image {settings.image} is not on the Docker host and deployer.pull is 'never'; "
                            f"pull it (docker pull {settings.image}) or set deployer.pull to 'missing'"
                        ) from None
        repository, tag = settings.image_reference
        log.info("pulling %s", settings.image)
        with self._docker_errors(f"pull image {settings.image}"):
            # The daemon reports a failed pull (unknown tag, no access) inside the stream, not as a status.
            for event in self.client.api.pull(repository, tag=tag, stream=True, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    raise DeployError(f"could not pull image {settings.image}: {self._redact(str(event['error']))}")
            try:
                self.client.images.get(settings.image_name)
            except ImageNotFound:
                raise DeployError(f"image {settings.image} is still missing after pulling it") from None

    def _check_mount_sources(self, mounts: list[tuple[str, str]]) -> None:
        for source, _ in mounts:
            folder = Path(source)
            if not folder.exists():
                raise DeployError(f"{source} does not exist on this machine, so it cannot be mounted into the engine")
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.is_symlink() and not entry.resolve().is_relative_to(folder.resolve()):
                    raise DeployError(
                        f"{entry} links outside {source} (a Hugging Face cache snapshot?); the container sees only "
                        "the mounted folder. Point model.path at a folder of real files, such as one made by "
                        "`huggingface-cli download MODEL --local-dir DIR`"
                    )

    # ----- the Deployer interface

    def deploy(
        self,
        run_id: str,
        trial_number: int,
        params: Configuration,
        workdir: Path,
        devices: list[str] | None = None,
    ) -> Deployment:
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir / "engine.log"
        # What can be wrong on this side is reported before a pull that may take minutes.
        self._environment(devices)
        self._check_mount_sources(self._mounts()[2])
        self._ensure_image()
        host_port = free_port(LOOPBACK)
        run = self._run(params, devices, host_port)
        engine = EngineLabels(run_id=run_id, trial_number=trial_number)
        run.name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"servetune-{run_id}-trial-{trial_number}-{uuid.uuid4().hex[:6]}")
        run.labels = engine.as_dict() | {LABEL_LABEL: engine.name, LABEL_LOG: str(log_path)}
        with self._docker_errors(f"create the engine container from {self.settings.image}"):
            container = self.client.containers.create(**self._create_args(run))
        handle = DockerHandle(container=container.id, name=run.name)
        deployment = Deployment(
            run_id=run_id,
            trial_number=trial_number,
            label=engine.name,
            endpoint=f"http://{LOOPBACK}:{host_port}",
            command=self._docker_run_argv(run),
            log_path=str(log_path),
            handle=handle,
            gpus=run.gpus,
        )
        _live_engines.register(handle.key, functools.partial(self.teardown, deployment))
        try:
            with self._docker_errors(f"start the engine container {run.name}"):
                container.start()
        except BaseException:
            with contextlib.suppress(Exception):
                self._remove(container, None)
            _live_engines.unregister(handle.key)
            raise
        log.info("started container %s for %s", run.name, engine.name)
        return deployment

    @staticmethod
    def _handle(deployment: Deployment) -> DockerHandle:
        if not isinstance(deployment.handle, DockerHandle):
            raise DeployError(f"{deployment.label} was not deployed by the docker deployer")
        return deployment.handle

    def _container(self, deployment: Deployment) -> Container | None:
        handle = self._handle(deployment)
        with self._docker_errors(f"look up container {handle.name}"):
            try:
                return self.client.containers.get(handle.container)
            except NotFound:
                return None

    def is_running(self, deployment: Deployment) -> bool:
        container = self._container(deployment)
        return container is not None and container.status == "running"

    def _output(self, container: Container, tail: int | str = "all") -> str:
        raw = container.logs(stdout=True, stderr=True, tail=tail)
        return self._redact(raw.decode(errors="replace"))

    def logs(self, deployment: Deployment, tail: int = 60) -> str:
        try:
            container = self.client.containers.get(self._handle(deployment).container)
            return "\n".join(self._output(container, tail).splitlines()[-tail:])
        except (DeployError, DockerException, requests.exceptions.RequestException):
            # Removed (or the daemon is gone): the output saved at teardown.
            return process_group.tail(Path(deployment.log_path), tail)

    @functools.cached_property
    def _lines_seen(self) -> dict[str, int]:
        return {}  # per engine: how many of its container's output lines ``new_log_lines`` has returned

    def new_log_lines(self, deployment: Deployment) -> list[str]:
        # Docker keeps the container's whole output; while an engine starts it is a few hundred lines.
        container = self._container(deployment)
        if container is None:
            return []
        try:
            lines = self._output(container).splitlines()
        except (DockerException, requests.exceptions.RequestException):
            return []
        seen = self._lines_seen.get(deployment.label, 0)
        self._lines_seen[deployment.label] = len(lines)
        return lines[seen:]

    def _save_logs(self, container: Container, log_path: Path) -> None:
        try:
            text = self._output(container)
        except (DockerException, requests.exceptions.RequestException) as exc:
            log.warning("could not read the output of container %s: %s", container.name, self._redact(str(exc)))
            return
        try:
            log_path.write_text(text, encoding="utf-8")
        except OSError as exc:
            log.warning("could not save the output of container %s to %s: %s", container.name, log_path, exc)

    def _remove(self, container: Container, log_path: Path | None) -> bool:
        """Stop (grace, then kill), save the output, remove; True if it was running."""
        running = container.status == "running"
        try:
            if running:
                try:
                    container.stop(timeout=math.ceil(self.settings.stop_grace))
                except NotFound:
                    pass
                except (APIError, requests.exceptions.RequestException) as exc:
                    log.warning("could not stop container %s (%s); removing it by force", container.name, exc)
            if log_path is not None:
                self._save_logs(container, log_path)
        finally:
            with contextlib.suppress(NotFound):
                container.remove(force=True)
        return running

    def teardown(self, deployment: Deployment) -> bool:
        handle = self._handle(deployment)
        container = self._container(deployment)
        if container is None:
            _live_engines.unregister(handle.key)
            return False
        with self._docker_errors(f"remove container {handle.name}"):
            running = self._remove(container, Path(deployment.log_path))
        _live_engines.unregister(handle.key)
        log.info("removed container %s of %s", handle.name, deployment.label)
        return running

    def sweep(self, run_id: str | None = None, include_live_owners: bool = False) -> list[str]:
        wanted = f"{RUN}={run_id}" if run_id else OWNER
        with self._docker_errors("list servetune's containers"):
            containers = self.client.containers.list(all=True, filters={"label": [wanted]}, ignore_removed=True)
        removed = []
        for container in containers:
            labels = container.labels
            engine = EngineLabels.from_dict(labels)
            if not include_live_owners and (engine is None or not engine.orphaned()):
                continue  # its owner may still be running (or is unknown)
            log_label = labels.get(LABEL_LOG)
            log_path = Path(log_label) if log_label and Path(log_label).parent.is_dir() else None
            with self._docker_errors(f"remove container {container.name}"):
                self._remove(container, log_path)
            _live_engines.unregister(DockerHandle(container=container.id, name=container.name).key)
            removed.append(labels.get(LABEL_LABEL) or container.name)
            log.info("swept container %s (%s)", container.name, labels.get(OWNER))
        return removed
