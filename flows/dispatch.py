"""Where trials run: inside the tune flow's process, or as flow runs of a work pool's ``trial`` deployment.

``strategy.parallelism`` trials run at once. Each ends on its own time and is handed back as it ends, so the
study is told each result as soon as it exists, not in lockstep. What a trial measured is read from the store
by the caller: a trial flow records its own outcome, wherever it ran.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import cast
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling, State

from flows.trial import trial
from tuning.errors import ExitCode, ServetuneError
from tuning.spec import Configuration, TuningSpec
from tuning.store import Store

_POLL_SECONDS = 2.0
_TRIAL_FINISH_SECONDS = 30.0
# A flow run in these states waits for a worker of its pool (Scheduled, Late). Pending is taken: its worker is
# starting its process, which takes seconds of imports; one that never runs is given up as overdue instead.
_WAITING_FOR_A_WORKER = frozenset({StateType.SCHEDULED})


class PoolNotReady(ServetuneError, RuntimeError):
    """The spec names a pool whose ``trial`` deployment does not exist on the Prefect server."""

    exit_code = ExitCode.bad_input


def trial_deployment(pool: str) -> str:
    return f"trial/{pool}"


class TrialRuns:
    """The trials in flight for one tuning run."""

    def __init__(self, spec: TuningSpec, run_id: str, store: Store) -> None:
        self.spec, self.run_id, self.store = spec, run_id, store
        self.pool = spec.hardware.pool
        self.parallelism = spec.strategy.parallelism
        # One trial at a time in this process runs on the calling thread, where Ctrl-C reaches it directly.
        inline = self.pool is None and self.parallelism == 1
        self._executor = None if inline else ThreadPoolExecutor(self.parallelism, thread_name_prefix="trial")
        self._pending: dict[Future[None], int] = {}
        self._flow_runs: dict[int, UUID] = {}

    def check(self) -> None:
        """Fail before the first trial when the pool's ``trial`` deployment is missing."""
        if self.pool is None:
            return
        name = trial_deployment(self.pool)
        with get_client(sync_client=True) as client:
            try:
                client.read_deployment_by_name(name)
            except ObjectNotFound:
                raise PoolNotReady(
                    f"hardware.pool {self.pool!r}: the Prefect server has no deployment {name!r}; create it with "
                    "`prefect deploy --all` (prefect.yaml has one `trial` deployment per pool)"
                ) from None

    @property
    def has_room(self) -> bool:
        return len(self._pending) < self.parallelism

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def start(self, number: int, params: Configuration, confirms: int | None = None) -> None:
        if self._executor is None:
            done: Future[None] = Future()
            self._run_here(number, params, confirms)
            done.set_result(None)
        else:
            work = self._run_on_pool if self.pool is not None else self._run_here
            # The copied context makes each trial a child of the tune flow run in the Prefect UI.
            done = self._executor.submit(contextvars.copy_context().run, work, number, params, confirms)
        self._pending[done] = number

    def wait_finished(self) -> list[int]:
        """Block until at least one trial has ended; the numbers of those that have."""
        done, _ = wait(self._pending, return_when=FIRST_COMPLETED)
        finished = []
        for future in done:
            number = self._pending.pop(future)
            future.result()  # an error here is servetune's, not the trial's: the trial records its own
            finished.append(number)
        return sorted(finished)

    def close(self, interrupted: bool) -> None:
        """The run is ending: trials still in flight are cancelled, and recorded interrupted if the run was."""
        self.stop()
        if interrupted:
            self.store.interrupt_trials(self.run_id)

    def stop(self) -> None:
        """Cancel trial flow runs still on the pool; stop waiting for local ones."""
        if self._flow_runs:
            with get_client(sync_client=True) as client:
                for flow_run_id in self._flow_runs.values():
                    client.set_flow_run_state(flow_run_id, Cancelling(message="the tuning run was stopped"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _run_here(self, number: int, params: Configuration, confirms: int | None) -> None:
        trial.with_options(timeout_seconds=self.spec.timeouts.trial)(
            self.spec, self.run_id, number, params, confirms=confirms, return_state=True
        )

    def _run_on_pool(self, number: int, params: Configuration, confirms: int | None) -> None:
        parameters = {
            "spec": self.spec.model_dump(mode="json"),
            "run_id": self.run_id,
            "trial_number": number,
            "params": params,
            "confirms": confirms,
        }
        # Called from a thread (sync), Prefect's dispatcher returns the flow run, not a coroutine.
        flow_run = cast(FlowRun, run_deployment(trial_deployment(self.pool or ""), parameters=parameters, timeout=0))
        self._flow_runs[number] = flow_run.id
        get_run_logger().info("trial %d: flow run %s on pool %s", number, flow_run.name, self.pool)
        with get_client(sync_client=True) as client:
            state, given_up = self._wait_final(client, flow_run, number)
        self._flow_runs.pop(number, None)
        if given_up is not None:
            get_run_logger().error("trial %d: %s", number, given_up)
        # A worker killed mid-trial, or one whose SERVETUNE_DATABASE_URL names another database, leaves no outcome.
        lost = given_up or (
            f"trial flow run {flow_run.name} ended {state.name} without recording an outcome in "
            f"{self.store.safe_url}; check that the pool's workers use the same SERVETUNE_DATABASE_URL"
        )
        self.store.record_lost(self.run_id, number, params, lost)

    def _wait_final(self, client: SyncPrefectClient, flow_run: FlowRun, number: int) -> tuple[State, str | None]:
        """Poll the trial's flow run until it is final; its final state, and why it was given up: no worker took it
        up for ``timeouts.pool_pickup`` seconds (it is cancelled), or it ran past ``timeouts.trial`` and the time its
        cleanup may take (it is cancelled, and told to its worker, which stops it if it is still alive)."""
        patience, timeouts = self.spec.timeouts.pool_pickup, self.spec.timeouts
        # A trial flow cut at its timeout still stops its engine (local and Docker ones get `stop_grace` for that) and
        # records its outcome: that much longer.
        overdue = timeouts.trial + getattr(self.spec.deployer, "stop_grace", 0.0) + _TRIAL_FINISH_SECONDS
        last_taken = time.monotonic()  # a flow run sent back to wait (a retry) gets the whole time again
        running_since: float | None = None
        while not (state := client.read_flow_run(flow_run.id).state) or not state.is_final():
            if state is not None and state.type not in _WAITING_FOR_A_WORKER:
                last_taken = time.monotonic()
                running_since = running_since or last_taken
                if last_taken - running_since > overdue:
                    # Its process is gone without a word (a worker killed with it, a lost machine) or hangs: Prefect
                    # would show it Running forever, and the run would wait forever.
                    why = (
                        f"trial flow run {flow_run.name} still {state.name} after {overdue:g} s, past timeouts.trial "
                        f"({timeouts.trial:g} s): its worker or its process died, or it hangs; cancelled"
                    )
                    client.set_flow_run_state(flow_run.id, Cancelling(message=why), force=True)
                    return state, why
            elif time.monotonic() - last_taken > patience:
                why = (
                    f"no worker of pool {self.pool!r} picked trial {number} up within {patience:g} s; start one "
                    f"with `prefect worker start --pool {self.pool}`"
                )
                # Refused only if a worker took it up meanwhile: then it runs, and is waited for.
                cancelled: OrchestrationResult[None] = client.set_flow_run_state(flow_run.id, Cancelled(message=why))
                if cancelled.status is SetStateStatus.ACCEPT and cancelled.state is not None:
                    return cancelled.state, why
            else:
                running_since = None
            time.sleep(_POLL_SECONDS)
        return state, None
