"""The deployer interface: where an engine runs, how to reach it, and how to remove it."""

from __future__ import annotations

import abc
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, SerializeAsAny

from deployers import _engine_log
from deployers._labels import EngineLabels
from deployers._readiness import probe
from deployers.engines import EngineAdapter, engine_adapter
from tuning.evaluation.metrics import BenchmarkResult, RoundMetrics
from tuning.spec import Configuration, TuningSpec

_READY_POLL_SECONDS = 1.0


class DeployError(RuntimeError):
    """The engine could not be started or did not become ready; the message says why."""


class TransientDeployError(DeployError):
    """A failure that a fresh attempt may not meet (a port taken in a race, a busy API server)."""


class EngineExited(DeployError):
    """The engine process ended before it was ready."""


class ReadyTimeout(DeployError, TimeoutError):
    """The engine did not answer a completion within the ready timeout."""


class EngineHandle(BaseModel):
    """What a deployer needs to find its engine again. Each deployer's module subclasses it, with a ``kind`` of
    its own as the field's default; a subclass is known by that kind as soon as it is defined."""

    kind: str
    by_kind: ClassVar[dict[str, type[EngineHandle]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        EngineHandle.by_kind[cls.model_fields["kind"].default] = cls

    @property
    def key(self) -> str:
        """A name for the engine unique on this machine: its entry in the registry of live engines."""
        raise NotImplementedError


def _typed_handle(value: object) -> object:
    # A Deployment passed between tasks as JSON (on a pool worker) comes back with its deployer's own handle.
    if isinstance(value, dict) and isinstance(kind := value.get("kind"), str) and kind in EngineHandle.by_kind:
        return EngineHandle.by_kind[kind].model_validate(value)
    return value


class Deployment(BaseModel):
    """A running engine: how to reach it, where its log is, and the handle its deployer needs."""

    run_id: str
    trial_number: int
    label: str
    endpoint: str
    command: list[str]
    log_path: str
    handle: Annotated[SerializeAsAny[EngineHandle], BeforeValidator(_typed_handle)]
    gpus: int = 1

    def helper_label(self, helper: str) -> str:
        """The process label of a program this process runs beside the engine (genai-bench, its report): the trial's
        label with this process as its owner, whatever the deployer, so a sweep by another run on this machine
        sees a live owner and leaves it alone."""
        return f"{EngineLabels(run_id=self.run_id, trial_number=self.trial_number).process_label()}/{helper}"


class Deployer(abc.ABC):
    """Where an engine runs. One module per kind (local process, Docker, OME)."""

    kind: ClassVar[str]

    def __init__(self, spec: TuningSpec) -> None:
        self.spec = spec
        self.engine: EngineAdapter = engine_adapter(spec.engine)

    @staticmethod
    def label(run_id: str, trial_number: int) -> str:
        return EngineLabels(run_id=run_id, trial_number=trial_number).name

    @abc.abstractmethod
    def deploy(
        self,
        run_id: str,
        trial_number: int,
        params: Configuration,
        workdir: Path,
        devices: list[str] | None = None,
    ) -> Deployment:
        """Start the engine with ``params`` on ``devices`` (accelerator ids chosen by the allocator, None on a
        CPU); return at once, without waiting for readiness."""

    def missing_files(self) -> list[str]:
        """Files the engine needs on this machine that are not there, each as ``field: path ...``; none by default."""
        return []

    def _missing_model_files(self) -> list[str]:
        # An absolute path is a local folder; anything else (org/model) is a hub id the engine resolves itself.
        model = self.spec.model
        paths = {"model.path": model.path, "model.tokenizer": model.tokenizer}
        return missing_paths(paths, "a local folder; a hub id is written org/name")

    @abc.abstractmethod
    def preview_command(self, params: Configuration) -> list[str]:
        """The argv this deployer would run for ``params`` (what `servetune validate` shows)."""

    @abc.abstractmethod
    def is_running(self, deployment: Deployment) -> bool:
        """Whether the engine is still up (False once it has crashed or been removed)."""

    @abc.abstractmethod
    def logs(self, deployment: Deployment, tail: int = 60) -> str:
        """The last ``tail`` lines of the engine's output."""

    @abc.abstractmethod
    def teardown(self, deployment: Deployment) -> bool:
        """Stop and remove the engine; safe to call twice. True if something was still running."""

    #: The least a ``deployer`` section needs beside ``kind`` to reach this deployer's engines with its defaults
    #: (the local Docker daemon, the current kubeconfig): what ``servetune sweep`` uses without a spec.
    sweep_defaults: ClassVar[dict[str, Any]] = {}

    @abc.abstractmethod
    def sweep(self, run_id: str | None = None, include_live_owners: bool = False) -> list[str]:
        """Remove engines whose owning servetune process is gone (of ``run_id``, or of any run), found by their
        labels; with ``include_live_owners``, the run's engines whatever their owner. Returns what went."""

    def new_log_lines(self, deployment: Deployment) -> list[str]:
        """The engine's log lines written since the last call (all so far, at the first); none by default, for a
        deployer that cannot follow its engine's log."""
        return []

    def _relay_log(self, deployment: Deployment) -> None:
        # A deployer that cannot read its engine's log now (a busy API) must not fail the wait for that.
        try:
            lines = self.new_log_lines(deployment)
        except (DeployError, OSError):
            return
        _engine_log.relay(lines, self.spec)

    def wait_ready(self, deployment: Deployment, timeout: float) -> float:
        """Block until ``/health`` answers and a one-token completion succeeds; return seconds waited. Meanwhile
        the engine's new log lines go to the run's logs (``deployers._engine_log``)."""
        started = time.monotonic()
        reason: str | None = "no answer yet"
        while time.monotonic() - started < timeout:
            self._relay_log(deployment)
            if not self.is_running(deployment):
                self._relay_log(deployment)
                raise EngineExited(
                    f"the engine stopped before it was ready; last lines of {deployment.log_path}:\n"
                    f"{self.logs(deployment, 30)}"
                )
            task = self.spec.benchmark.task.value
            reason = probe(deployment.endpoint, self.engine.health_path, self.spec.model.name, task)
            if reason is None:
                self._relay_log(deployment)
                return time.monotonic() - started
            time.sleep(_READY_POLL_SECONDS)
        self._relay_log(deployment)
        raise ReadyTimeout(f"the engine was not ready after {timeout:g}s (last probe: {reason})")

    def measure(
        self,
        deployment: Deployment,
        scenario: str,
        levels: list[int],
        out_dir: Path,
        settles: Callable[[list[RoundMetrics]], bool] | None = None,
    ) -> BenchmarkResult | None:
        """The rounds of ``scenario`` at ``levels``, when this deployer makes them itself (a replay), each handed
        to ``settles`` as it lands, as genai-bench's are; None, the default: genai-bench loads the engine."""
        return None


def missing_paths(paths: Mapping[str, str | None], hint: str) -> list[str]:
    """``field: path does not exist ...`` for each absolute path that is not on this machine."""
    return [
        f"{field}: {path} does not exist on this machine ({hint})"
        for field, path in paths.items()
        if path and os.path.isabs(path) and not os.path.exists(path)
    ]
