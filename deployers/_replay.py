"""A recorded response surface served as engine and benchmark: no process starts, and each trial's rounds are the
ones the surface recorded for its configuration (``tuning.evaluation.surface``), with noise if the spec asks.

Everything around it is a real run's: the ``tune`` and ``trial`` flows, Optuna, the store, early stops, scoring
and artifacts. A configuration the surface recorded as failed fails again in the same phase a real engine would:
refused at start (``rejected``), timed out before it was ready (``timed_out``), or exited before it was ready.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal

from deployers._base import Deployer, DeployError, Deployment, EngineExited, EngineHandle, ReadyTimeout
from tuning.evaluation.metrics import BenchmarkResult, RoundMetrics
from tuning.evaluation.outcome import TrialState
from tuning.evaluation.surface import Surface, SurfaceError, SurfaceGap, read_surface, with_noise
from tuning.runtime import process_group
from tuning.search.space import SearchSpaceError, grid
from tuning.spec import Configuration, ReplayDeployerSpec

_ACCEPTED = "a response surface CSV as `python -m benchmarks.surfaces.record` writes it; see docs/replay.md"
_ROUNDS_FILE = "replayed-rounds.jsonl"

# Every trial makes its own deployer and asks for the surface several times; it is read once per file version.
_surfaces: dict[tuple[str, int, int], Surface] = {}
_surfaces_lock = threading.Lock()


def _read(path: Path) -> Surface:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _surfaces_lock:
        if key not in _surfaces:
            _surfaces[key] = read_surface(path)
        return _surfaces[key]


class ReplayHandle(EngineHandle):
    """The configuration a trial replays, and how the surface says its engine ended (``failure``: why it failed)."""

    kind: Literal["replay"] = "replay"
    run_id: str
    trial_number: int
    params: Configuration
    recorded_trial: int
    failure: str | None = None

    @property
    def key(self) -> str:
        return f"replay/{self.run_id}/{self.trial_number}"


class ReplayDeployer(Deployer):
    kind: ClassVar[str] = "replay"
    # Nothing of a replay outlives its trial; a sweep needs only a valid section to find that out.
    sweep_defaults: ClassVar[dict[str, object]] = {"surface": "none.csv"}

    @property
    def settings(self) -> ReplayDeployerSpec:
        assert isinstance(self.spec.deployer, ReplayDeployerSpec)
        return self.spec.deployer

    def surface(self) -> Surface:
        return _read(Path(self.settings.surface))

    def recorded_params(self, params: Configuration) -> Configuration:
        """``params`` as the surface keys them: with the ``engine.args`` the surface varies, which the spec fixes."""
        surface = self.surface()
        fixed = {name: value for name, value in self.spec.engine.args.items() if name in surface.parameters}
        return params | fixed

    def missing_files(self) -> list[str]:
        """The surface's problems, each naming ``deployer.surface``: it is missing or unreadable, or it lacks a
        configuration of the search space, or a traffic scenario or concurrency level of the benchmark."""
        path = Path(self.settings.surface)
        if not path.is_file():
            return [f"deployer.surface: {path} does not exist on this machine ({_ACCEPTED})"]
        try:
            self.surface()
            # A configuration the engine refuses is rejected before any deployer sees it: it needs no row.
            runnable = [params for params in grid(self.spec) if self.engine.refusal(params) is None]
            configurations = [self.recorded_params(params) for params in runnable]
        except SurfaceError as exc:
            return [f"deployer.surface: {exc} ({_ACCEPTED})"]
        except SearchSpaceError as exc:
            return [f"deployer.surface: {path} can only cover a search space of listed values or stepped ranges: {exc}"]
        bench = self.spec.benchmark
        gaps = self.surface().gaps(configurations, bench.traffic_scenarios, bench.concurrency)
        problems = [f"deployer.surface: {path}: {gap}" for gap in gaps]
        defaults = self.recorded_params({})
        if self.spec.measure_defaults and self.surface().gaps([defaults], bench.traffic_scenarios, bench.concurrency):
            problems.append(
                f"measure_defaults: true, but {path} has no rounds of the engine's defaults (no searched flag set); "
                "set measure_defaults: false to replay it"
            )
        return problems

    def preview_command(self, params: Configuration) -> list[str]:
        # What the configuration's engine runs as: a replay starts none, and the card shows what a real run would.
        return self.engine.command(self.spec.model, params, "127.0.0.1", 8000)

    def deploy(
        self,
        run_id: str,
        trial_number: int,
        params: Configuration,
        workdir: Path,
        devices: list[str] | None = None,
    ) -> Deployment:
        try:
            measurement = self.surface().measurement(self.recorded_params(params))
        except (SurfaceError, SurfaceGap, OSError) as exc:
            raise DeployError(f"deployer.surface: {exc}") from exc
        source = self.settings.surface
        log_path = workdir / "engine.log"
        lines = [
            "servetune: replay: no engine is started; this trial's rounds are read from the recorded surface",
            f"servetune: replay: {source}, recorded trial {measurement.trial} ({measurement.state.value})",
        ]
        if measurement.state is TrialState.failed:
            lines.append(f"servetune: replay: the recorded engine failed: {measurement.error}")
        workdir.mkdir(parents=True, exist_ok=True)
        log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        failure = None if measurement.benchmarked else (measurement.error or "failed (no reason recorded)")
        if failure is not None and failure.startswith("rejected:"):
            raise DeployError(f"{failure} (as recorded in {source}, trial {measurement.trial})")
        handle = ReplayHandle(
            run_id=run_id,
            trial_number=trial_number,
            params=params,
            recorded_trial=measurement.trial,
            failure=failure,
        )
        return Deployment(
            run_id=run_id,
            trial_number=trial_number,
            label=self.label(run_id, trial_number),
            endpoint=f"replay://{Path(source).name}",
            command=self.preview_command(params),
            log_path=str(log_path),
            handle=handle,
            gpus=measurement.gpus,
        )

    @staticmethod
    def _handle(deployment: Deployment) -> ReplayHandle:
        if not isinstance(deployment.handle, ReplayHandle):
            raise DeployError(f"{deployment.label} was not deployed by the replay deployer")
        return deployment.handle

    def wait_ready(self, deployment: Deployment, timeout: float) -> float:
        """Ready after ``ready_seconds`` of simulated start-up; a configuration recorded as failed fails here."""
        handle = self._handle(deployment)
        started = time.monotonic()
        # The simulated start-up is the wait itself: there is no condition to poll.
        time.sleep(min(self.settings.ready_seconds, timeout))
        recorded = f"(as recorded in {self.settings.surface}, trial {handle.recorded_trial})"
        if handle.failure is not None and handle.failure.startswith(f"{TrialState.timed_out.value}:"):
            raise ReadyTimeout(f"the engine was not ready after {timeout:g}s {recorded}: {handle.failure}")
        if handle.failure is not None:
            raise EngineExited(
                f"the engine stopped before it was ready {recorded}; last lines of {deployment.log_path}:\n"
                f"{self.logs(deployment, 30)}"
            )
        if self.settings.ready_seconds > timeout:
            raise ReadyTimeout(f"the engine was not ready after {timeout:g}s (deployer.ready_seconds is longer)")
        return time.monotonic() - started

    def measure(
        self,
        deployment: Deployment,
        scenario: str,
        levels: list[int],
        out_dir: Path,
        settles: Callable[[list[RoundMetrics]], bool] | None = None,
    ) -> BenchmarkResult | None:
        """The recorded rounds, level by level, each with its own noise draw and handed to ``settles`` as it
        lands, so an early stop ends the replay where it would end genai-bench."""
        handle = self._handle(deployment)
        surface, noise = self.surface(), self.settings.noise
        started = time.monotonic()
        rounds: list[RoundMetrics] = []
        out_dir.mkdir(parents=True, exist_ok=True)
        with (out_dir / _ROUNDS_FILE).open("w", encoding="utf-8") as written:
            for level in levels:
                recorded = surface.round(self.recorded_params(handle.params), scenario, level)
                draws = self._draws(handle.trial_number, scenario, level)
                source = f"replay of {Path(surface.source).name} trial {handle.recorded_trial}: {recorded.source_file}"
                round_ = with_noise(recorded, noise, draws).model_copy(update={"source_file": source})
                written.write(json.dumps(round_.model_dump()) + "\n")
                rounds.append(round_)
                if settles is not None and settles(rounds):
                    break
        return BenchmarkResult(rounds=rounds, results_dir=str(out_dir), seconds=time.monotonic() - started)

    def _draws(self, trial_number: int, scenario: str, level: int) -> random.Random:
        # One generator per round, keyed by what the round is: the same seed gives the same numbers whatever order
        # trials run in, and a confirmation (another trial number) draws afresh, as a new measurement would.
        seed = self.settings.seed
        return random.Random() if seed is None else random.Random(f"{seed}/{trial_number}/{scenario}/{level}")

    def is_running(self, deployment: Deployment) -> bool:
        return self._handle(deployment).failure is None

    def logs(self, deployment: Deployment, tail: int = 60) -> str:
        return process_group.tail(Path(deployment.log_path), tail)

    def teardown(self, deployment: Deployment) -> bool:
        return self.is_running(deployment)

    def sweep(self, run_id: str | None = None, include_live_owners: bool = False) -> list[str]:
        return []
