"""The engine as a process on this machine, in its own process group, on a free port."""

from __future__ import annotations

import errno
import functools
import os
import shlex
from pathlib import Path
from typing import ClassVar, Literal

from deployers import _engine_log, _live_engines
from deployers._base import Deployer, DeployError, Deployment, EngineHandle, TransientDeployError
from deployers._labels import EngineLabels
from tuning.runtime import process_group
from tuning.runtime.network import free_port, no_proxy_env
from tuning.spec import Configuration, LocalDeployerSpec

# The engine's environment is built, not inherited: only these, plus what the spec names, reach it.
_INHERITED = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ", "HF_HOME", "XDG_CACHE_HOME")
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy")


def _start_log(log_path: Path, argv: list[str]) -> None:
    """Open the engine's log with the command that starts it. A disk too full to write it stops the trial here,
    naming the disk; the engine would otherwise die on its first line of output, leaving an empty log to explain it."""
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"servetune: starting {shlex.join(argv)}\n".encode())
    except OSError as exc:
        raise DeployError(f"cannot write the engine log {log_path}: {exc.strerror or exc}") from exc


class LocalHandle(EngineHandle):
    """The engine's process group on this machine."""

    kind: Literal["local"] = "local"
    pgid: int

    @property
    def key(self) -> str:
        return f"local/{self.pgid}"


class LocalDeployer(Deployer):
    kind: ClassVar[str] = "local"

    @property
    def settings(self) -> LocalDeployerSpec:
        assert isinstance(self.spec.deployer, LocalDeployerSpec)
        return self.spec.deployer

    def engine_env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in (*_INHERITED, *_PROXIES) if k in os.environ}
        env |= {k: os.environ[k] for k in self.spec.engine.pass_env if k in os.environ}
        env |= self.engine.env() | self.spec.engine.env
        return no_proxy_env(env, [self.settings.host])

    def missing_files(self) -> list[str]:
        engine = self.spec.engine
        missing = self._missing_model_files()
        interpreter = engine.interpreter
        if os.path.isabs(interpreter) and not os.path.exists(interpreter):
            field = "engine.venv" if engine.venv else "engine.python"
            missing.append(
                f"{field}: {interpreter} does not exist on this machine (`make engine` makes the quickstart's)"
            )
        return missing

    def preview_command(self, params: Configuration) -> list[str]:
        return self.engine.command(self.spec.model, params, self.settings.host, 8000)

    def deploy(
        self,
        run_id: str,
        trial_number: int,
        params: Configuration,
        workdir: Path,
        devices: list[str] | None = None,
    ) -> Deployment:
        interpreter = Path(self.spec.engine.interpreter)
        if interpreter.is_absolute() and not interpreter.exists():
            raise DeployError(
                f"engine interpreter {interpreter} does not exist; check engine.venv / engine.python "
                "(the quickstart's engine env is made by `make engine`)"
            )
        host = self.settings.host
        port = free_port(host)
        argv = self.engine.command(self.spec.model, params, host, port)
        # The owner in the label lets a later run tell an orphan from a sibling run's live engine.
        label = EngineLabels(run_id=run_id, trial_number=trial_number).process_label()
        log_path = workdir / "engine.log"
        _start_log(log_path, argv)
        try:
            env = self.engine_env()
            if devices is not None:
                # The allocator numbers GPUs as NVML does (PCI bus order); CUDA must count them the same way.
                env |= {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": ",".join(devices)}
            pid = process_group.start(argv, log_path, env, label=label, cwd=workdir)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ENOMEM):
                raise TransientDeployError(f"could not start the engine: {exc}") from exc
            raise DeployError(f"could not start the engine ({argv[0]}): {exc}") from exc
        handle = LocalHandle(pgid=pid)
        _live_engines.register(handle.key, functools.partial(process_group.stop, pid, label, self.settings.stop_grace))
        return Deployment(
            run_id=run_id,
            trial_number=trial_number,
            label=label,
            endpoint=f"http://{host}:{port}",
            command=argv,
            log_path=str(log_path),
            handle=handle,
            gpus=self.engine.gpu_count(params),
        )

    @staticmethod
    def _handle(deployment: Deployment) -> LocalHandle:
        if not isinstance(deployment.handle, LocalHandle):
            raise DeployError(f"{deployment.label} was not deployed by the local deployer")
        return deployment.handle

    def is_running(self, deployment: Deployment) -> bool:
        return process_group.is_running(self._handle(deployment).pgid)

    def logs(self, deployment: Deployment, tail: int = 60) -> str:
        return process_group.tail(Path(deployment.log_path), tail)

    @functools.cached_property
    def _log_offsets(self) -> dict[str, int]:
        return {}  # per engine: how far its log has been read by ``new_log_lines``

    def new_log_lines(self, deployment: Deployment) -> list[str]:
        offset = self._log_offsets.get(deployment.label, 0)
        lines, self._log_offsets[deployment.label] = _engine_log.read_from(Path(deployment.log_path), offset)
        return lines

    def teardown(self, deployment: Deployment) -> bool:
        handle = self._handle(deployment)
        stopped = process_group.stop(handle.pgid, deployment.label, self.settings.stop_grace)
        _live_engines.unregister(handle.key)
        return stopped

    def sweep(self, run_id: str | None = None, include_live_owners: bool = False) -> list[str]:
        prefix = f"servetune/{run_id}/" if run_id else "servetune/"
        removed = []
        for pgid, label in process_group.labelled(prefix).items():
            # Engines and the benchmarks run against them (".../genai-bench") carry their owner in the label; a
            # label without one names no live owner.
            labels = EngineLabels.from_process_label(label)
            orphan = include_live_owners or labels is None or labels.orphaned()
            if orphan and process_group.stop(pgid, label, self.settings.stop_grace):
                _live_engines.unregister(LocalHandle(pgid=pgid).key)
                removed.append(label)
        return removed
