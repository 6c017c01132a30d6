"""A run's bookkeeping, shared by the ``tune`` and ``regression`` flows.

It sweeps engines a crashed run left behind, starts the run in the store (or reopens one to resume), holds the
trials in flight, and, whatever ends the run, stops the trials still running, removes the run's engines and
records how the run ended.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from prefect import get_run_logger
from prefect.runtime import flow_run

from benchmarks.report import wait_for_reports
from deployers import Deployer
from flows._prefect_api import unreachable
from flows.dispatch import TrialRuns
from tuning.evaluation.outcome import RunState
from tuning.runtime.environment import host_environment
from tuning.spec import TuningSpec
from tuning.store import RunKind, Store, TuningRun
from tuning.store.warm_start import WARM_START_KEY

# genai-bench's report of the last trial, made after its engine is gone, takes seconds; a run waits that long.
_REPORT_WAIT_SECONDS = 120.0


def run_ending(exc: BaseException, message: str) -> tuple[RunState, str]:
    """The state and message of a run that ``exc`` ended: ``interrupted`` by Ctrl-C or SIGTERM, else ``failed``
    with the error (unless the run had already said why)."""
    if not isinstance(exc, Exception):
        return RunState.interrupted, f"interrupted ({type(exc).__name__})"
    return RunState.failed, message or unreachable(exc) or f"{type(exc).__name__}: {exc}"


class RunLifecycle:
    """Enter it to open the run; leaving it, however, closes the run. Exceptions are recorded and raised on.

    The run belongs to this process until it ends: entering refuses (``RunOwned``) a run, or a new tuning run of a
    name, that another live process owns. ``resume`` is an unfinished run of the same name to continue: its trials
    abandoned by a process that died are recorded as failed (``abandoned``). ``report`` is called once the run's
    ending is stored, unless it was interrupted (the artifacts of a run). ``engine_version`` is recorded with the
    host's environment (``tuning.runtime.environment``) for the report.
    """

    def __init__(
        self,
        spec: TuningSpec,
        store: Store,
        deployer: Deployer,
        kind: RunKind = RunKind.tune,
        resume: TuningRun | None = None,
        report: Callable[[RunLifecycle], None] | None = None,
        engine_version: str = "not checked",
    ) -> None:
        self.spec, self.store, self.deployer, self.kind = spec, store, deployer, kind
        self.resumed, self.report, self.engine_version = resume, report, engine_version
        self.abandoned: list[int] = []
        self.environment: dict[str, str] = {}  # as recorded with the run (``record_environment``)
        self.state, self.message = RunState.failed, ""
        self.best: int | None = None
        self._logger = get_run_logger()

    def __enter__(self) -> RunLifecycle:
        prefect_id = str(flow_run.get_id() or "") or None
        # Claimed first: a run another live process owns is refused (RunOwned) before anything is touched or ended.
        if self.resumed is not None:
            self.run = self.store.reopen_run(self.resumed.id, prefect_id)
        else:
            self.run = self.store.start_run(self.spec, prefect_flow_run_id=prefect_id, kind=self.kind)
        self.trials = TrialRuns(self.spec, self.run.id, self.store)
        try:
            # A resumed run keeps what it learnt from when it began; its host is today's.
            learnt = {k: v for k, v in (self.run.environment or {}).items() if k == WARM_START_KEY}
            self.record_environment(host_environment(self.engine_version) | learnt)
            if swept := self.deployer.sweep():
                self._logger.warning("removed engines left by crashed runs: %s", swept)
            if self.resumed is not None:
                self.abandoned = self.store.abandon_dead_trials(self.run.id)
            self.trials.check()
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def record_environment(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.store.record_environment(self.run.id, environment)

    @property
    def id(self) -> str:
        return self.run.id

    def conclude(self, state: RunState, message: str, best: int | None) -> None:
        """How the run ends if nothing goes wrong after this; an error raised next keeps the message."""
        self.state, self.message, self.best = state, message, best

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc is not None:
            self.state, self.message = run_ending(exc, self.message)
        # Nothing may outlive the run, whatever ended it.
        self.trials.close(interrupted=self.state is RunState.interrupted)
        if unfinished := wait_for_reports(0.0 if self.state is RunState.interrupted else _REPORT_WAIT_SECONDS):
            self._logger.warning("stopped genai-bench reports that took too long: %s", unfinished)
        self.deployer.sweep(self.run.id)
        self.store.finish_run(self.run.id, self.state, self.message, self.best)
        if self.report is not None and self.state is not RunState.interrupted:
            self.report(self)
        self._logger.info("run %s %s: %s", self.run.id, self.state.value, self.message)
