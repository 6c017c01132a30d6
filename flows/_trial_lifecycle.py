"""A trial's bookkeeping, so the ``trial`` flow can read as the process.

It records the trial's start and outcome, times each phase, claims the trial's GPUs and releases them, says how
the trial ended (``TrialState``) and in which phase, and, whatever ends it, removes the engine and keeps its log
tail when something went wrong.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from prefect import get_run_logger

from benchmarks import Settles
from benchmarks.report import start_report
from deployers import Deployer, Deployment
from tasks import cleanup, record_trial_outcome, record_trial_start
from tuning.evaluation.early_stop import EarlyStop, PruningReporter, early_stop
from tuning.evaluation.load import load_plan
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.scoring import Score
from tuning.runtime.gpu_allocator import GpuAllocator
from tuning.runtime.gpu_slots import current_gpu_class, occupy
from tuning.runtime.settings import trial_dir
from tuning.spec import Configuration, TuningSpec

_LOG_TAIL_LINES = 60
_MESSAGE_TAIL_LINES = 12


class TrialFailed(RuntimeError):
    """Raised after a failed trial is recorded, so Prefect shows the trial's run as Failed."""


def _ending(exc: BaseException) -> TrialState:
    if isinstance(exc, TimeoutError):
        return TrialState.timed_out
    return TrialState.failed if isinstance(exc, Exception) else TrialState.interrupted


class TrialLifecycle:
    """Enter it before the trial's first step; it records the outcome however the ``with`` block ends.

    An error inside the block ends the trial as failed or timed out and is not raised further (``result`` raises
    ``TrialFailed`` instead, once it is recorded); Ctrl-C, SIGTERM or the whole-trial timeout is recorded, then
    raised on.
    """

    def __init__(
        self,
        spec: TuningSpec,
        deployer: Deployer,
        run_id: str,
        number: int,
        params: Configuration,
        confirms: int | None = None,
    ) -> None:
        self.spec, self.deployer, self.run_id, self.confirms = spec, deployer, run_id, confirms
        self.workdir = trial_dir(run_id, number)
        self.outcome = TrialOutcome(number=number, params=params, state=TrialState.running)
        self.deployment: Deployment | None = None
        self.rounds: list[RoundMetrics] = []
        self.plan = load_plan(spec.benchmark, spec.slos)
        self._pruned = False
        self._held = ExitStack()  # the trial's GPU slots and devices, released once its engine is gone
        self._started = self._benchmark_started = time.monotonic()
        self._logger = get_run_logger()

    def __enter__(self) -> TrialLifecycle:
        number = self.outcome.number
        record_trial_start(self.run_id, number, self.outcome.params, self.confirms)
        self._logger.info("trial %d: %s", number, self.outcome.params)
        # On a pool's worker, engines left by a trial process that was killed are found only by a later trial here.
        if swept := self.deployer.sweep():
            self._logger.warning("removed engines left by trials whose process died: %s", swept)
        return self

    @contextmanager
    def phase(self, phase: Phase) -> Iterator[None]:
        """Time a phase; a trial that fails inside it is recorded as failed in it."""
        self.outcome.phase = phase
        started = time.monotonic()
        try:
            yield
        finally:
            self.outcome.timings[phase.value] = round(time.monotonic() - started, 3)

    def claim_devices(self) -> list[str] | None:
        """Check the engine's files, then take the trial's GPUs: slots of its pool's GPU class (when run from a
        pool), then devices on this machine. None on a machine without GPUs. Released when the trial ends."""
        if missing := self.deployer.missing_files():
            raise FileNotFoundError("; ".join(missing))
        gpus = self.deployer.engine.gpu_count(self.outcome.params)
        if (gpu_class := current_gpu_class()) is not None:
            self._held.enter_context(occupy(gpu_class, gpus, timeout=self.spec.timeouts.trial))
        devices = self._held.enter_context(GpuAllocator().allocate(gpus, timeout=self.spec.timeouts.deploy))
        self.outcome.engine_started_at = datetime.now(UTC)
        return devices

    def deployed(self, deployment: Deployment) -> Deployment:
        self.deployment = deployment
        self.outcome.command, self.outcome.log_path = deployment.command, deployment.log_path
        return deployment

    def results_dir(self) -> str:
        """Where genai-bench writes; the benchmark's time budget starts now."""
        self.outcome.results_dir = str(self.workdir / "genai-bench")
        self._benchmark_started = time.monotonic()
        return self.outcome.results_dir

    def benchmark_seconds_left(self) -> float:
        return max(self.spec.timeouts.benchmark - (time.monotonic() - self._benchmark_started), 1.0)

    def load_steps(self, scenario: str) -> Iterator[list[int]]:
        """The levels of each genai-bench run of ``scenario``, as the load mode chooses them from the rounds so
        far: every level at once, or a ladder then bisection steps. Nothing more once the trial is settled."""
        while not self.stopped_early:
            levels = self.plan.next_levels([r for r in self.rounds if r.scenario == scenario])
            if levels is None:
                return
            yield levels

    def settles(self, reporter: PruningReporter | None, gpus: int) -> Settles:
        """What a benchmark is told after each round lands: the round is kept (so a timeout keeps the rounds
        measured before it); the early-stop rule on every round so far says whether the trial is settled, and
        the load mode whether this genai-bench run has measured all it needs (a level beyond capacity)."""

        def settled(run_rounds: list[RoundMetrics]) -> bool:
            self.rounds.append(run_rounds[-1])
            step = len(self.rounds) - 1
            if (stop := early_stop(self.spec, self.rounds, step, reporter, gpus)) is not None:
                self._stop_early(stop, step)
            scenario = [r for r in self.rounds if r.scenario == run_rounds[-1].scenario]
            return self.stopped_early or self.plan.ends_run(scenario)

        return settled

    @property
    def stopped_early(self) -> bool:
        return self.outcome.stopped_early is not None

    def _stop_early(self, stop: EarlyStop, step: int) -> None:
        """The benchmark stopped after round ``step``: record why, and about how much time that saved."""
        rounds = len(self.spec.benchmark.concurrency) * len(self.spec.benchmark.traffic_scenarios)
        self.outcome.stopped_early, self._pruned = stop.reason, stop.pruned
        per_round = (time.monotonic() - self._benchmark_started) / (step + 1)
        self.outcome.saved_seconds = round(per_round * (rounds - step - 1), 1)
        self._logger.info("trial %d: %s", self.outcome.number, stop.reason)

    def scored(self, score: Score) -> None:
        self.outcome.score = score

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        outcome = self.outcome
        try:
            if exc is None:
                outcome.state = TrialState.pruned if self._pruned else TrialState.succeeded
                outcome.phase = None
            else:
                self._failed(exc)
        finally:
            self._close()
        return isinstance(exc, Exception)  # an error is the trial's, recorded; an interrupt goes on up

    def _failed(self, exc: BaseException) -> None:
        outcome = self.outcome
        outcome.state = _ending(exc)
        if outcome.state is TrialState.interrupted and time.monotonic() - self._started >= self.spec.timeouts.trial:
            outcome.state = TrialState.timed_out  # the whole-trial timeout, raised into the flow by Prefect
        outcome.error = f"{type(exc).__name__}: {exc}".strip().removesuffix(":")
        if isinstance(exc, Exception):
            self._logger.warning("trial %d %s in %s: %s", outcome.number, outcome.state, outcome.phase, outcome.error)

    def _close(self) -> None:
        """Remove the engine, release the GPUs and record the outcome: whatever ended the trial."""
        outcome = self.outcome
        # When interrupted, Prefect's API may already be gone with the Ctrl-C; call the work directly.
        direct = outcome.state in (TrialState.interrupted, TrialState.timed_out)
        if self.deployment is not None:
            cleanup_started = time.monotonic()
            (cleanup.fn if direct else cleanup)(self.deployer, self.deployment)
            outcome.timings[Phase.cleanup.value] = round(time.monotonic() - cleanup_started, 3)
            outcome.engine_stopped_at = datetime.now(UTC)
            if outcome.state is not TrialState.succeeded:
                outcome.log_tail = self.deployer.logs(self.deployment, _LOG_TAIL_LINES)
            if self.rounds and outcome.results_dir and not direct:
                start_report(Path(outcome.results_dir), label=self.deployment.helper_label("genai-bench-report"))
        self._held.close()
        outcome.timings["total"] = round(time.monotonic() - self._started, 3)
        (record_trial_outcome.fn if direct else record_trial_outcome)(self.run_id, outcome, self.rounds)

    def result(self) -> TrialOutcome:
        """The outcome of a trial that succeeded or was pruned; ``TrialFailed`` with the reason otherwise."""
        outcome = self.outcome
        if outcome.state not in (TrialState.succeeded, TrialState.pruned):
            tail = "\n".join((outcome.log_tail or "").splitlines()[-_MESSAGE_TAIL_LINES:])
            detail = f"\nengine log tail:\n{tail}" if tail else ""
            raise TrialFailed(
                f"trial {outcome.number} {outcome.state.value} in {outcome.phase}: {outcome.error}{detail}"
            )
        self._logger.info(
            "trial %d: score %.4g (%s), timings %s",
            outcome.number,
            outcome.score.value if outcome.score else float("nan"),
            outcome.state.value
            if outcome.state is TrialState.pruned
            else "feasible"
            if outcome.feasible
            else "infeasible",
            outcome.timings,
        )
        return outcome
