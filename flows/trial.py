"""One configuration: deploy -> wait_ready -> benchmark -> score, and cleanup whatever happens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime

from prefect import flow, get_run_logger

from deployers import Deployment, deployer_for
from tasks import benchmark, cleanup, deploy, record_trial_outcome, record_trial_start, score_result, wait_ready
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.scoring import score
from tuning.runtime.gpu_allocator import GpuAllocator
from tuning.runtime.gpu_slots import current_gpu_class, occupy
from tuning.runtime.settings import trial_dir
from tuning.search.study import Reporter
from tuning.spec import Configuration, TuningSpec
from tuning.store import Store

# The deployer's own ready deadline fires first and says why; Prefect's is the backstop for a hung probe.
_READY_BACKSTOP_SECONDS = 30.0
_LOG_TAIL_LINES = 60
_MESSAGE_TAIL_LINES = 12


class TrialFailed(RuntimeError):
    """Raised after a failed trial is recorded, so Prefect shows the trial's run as Failed."""


@contextmanager
def _phase(outcome: TrialOutcome, phase: Phase) -> Iterator[None]:
    outcome.phase = phase
    started = time.monotonic()
    try:
        yield
    finally:
        outcome.timings[phase.value] = round(time.monotonic() - started, 3)


def _ending(exc: BaseException) -> TrialState:
    if isinstance(exc, TimeoutError):
        return TrialState.timed_out
    return TrialState.failed if isinstance(exc, Exception) else TrialState.interrupted


def _claim_accelerators(spec: TuningSpec, params: Configuration, held: ExitStack) -> list[str] | None:
    """Take the trial's GPUs: slots of its pool's GPU class (when run from a pool), then devices on this machine.

    None on a machine without GPUs. What is taken is released by ``held``, whatever ends the trial.
    """
    gpus = deployer_for(spec).engine.gpu_count(params)
    if (gpu_class := current_gpu_class()) is not None:
        held.enter_context(occupy(gpu_class, gpus, timeout=spec.timeouts.trial))
    return held.enter_context(GpuAllocator().allocate(gpus, timeout=spec.timeouts.deploy))


def _early_stop(
    spec: TuningSpec, rounds: list[RoundMetrics], step: int, reporter: Reporter | None, gpus: int
) -> tuple[str, bool] | None:
    """After a concurrency level: report the score so far; say why to stop (and whether it is a prune), if so."""
    level = rounds[-1].concurrency
    partial = score(rounds, spec.objective, spec.slos, gpus)
    if not partial.feasible:
        broken = "; ".join(sorted({v.slo for v in partial.violations if v.hard}))
        return f"stopped at concurrency {level}: hard SLO broken ({broken}), so higher levels were not run", False
    if reporter is None:
        return None
    reporter.report(partial.value, step)
    if reporter.should_prune():
        return f"pruned at concurrency {level}: score so far {partial.value:.4g} is below earlier trials'", True
    return None


@flow(name="trial", flow_run_name="trial-{trial_number}")
def trial(
    spec: TuningSpec, run_id: str, trial_number: int, params: Configuration, confirms: int | None = None
) -> TrialOutcome:
    """Deploy one configuration, wait until it serves, benchmark it, score it, and always clean up.

    ``confirms`` names the trial this one measures again after the search; such a run reports to no pruner.
    """
    logger = get_run_logger()
    workdir = trial_dir(run_id, trial_number)
    outcome = TrialOutcome(number=trial_number, params=params, state=TrialState.running)
    deployment: Deployment | None = None
    rounds: list[RoundMetrics] = []
    started = time.monotonic()
    held = ExitStack()  # the trial's GPU slots and devices, released once its engine is gone
    record_trial_start(run_id, trial_number, params, confirms)
    logger.info("trial %d: %s", trial_number, params)
    # On a pool's worker, engines left by a trial process that was killed are found only by a later trial here.
    if swept := deployer_for(spec).sweep():
        logger.warning("removed engines left by trials whose process died: %s", swept)
    try:
        with _phase(outcome, Phase.deploy):
            if missing := deployer_for(spec).missing_files():
                raise FileNotFoundError("; ".join(missing))
            devices = _claim_accelerators(spec, params, held)
            outcome.engine_started_at = datetime.now(UTC)
            deployment = deploy.with_options(timeout_seconds=spec.timeouts.deploy)(
                spec, run_id, trial_number, params, str(workdir), devices
            )
            outcome.command, outcome.log_path = deployment.command, deployment.log_path
        with _phase(outcome, Phase.ready):
            wait_ready.with_options(timeout_seconds=spec.timeouts.ready + _READY_BACKSTOP_SECONDS)(spec, deployment)
        with _phase(outcome, Phase.benchmark):
            reporter = Reporter(spec, run_id, trial_number, Store().url) if confirms is None else None
            outcome.results_dir = str(workdir / "genai-bench")
            levels, benchmark_started, pruned = spec.benchmark.concurrency, time.monotonic(), False
            # Ascending load: a level that breaks a hard SLO settles the trial, as higher load only adds latency.
            for step, level in enumerate(levels):
                left = spec.timeouts.benchmark - (time.monotonic() - benchmark_started)
                result = benchmark.with_options(timeout_seconds=max(left, 1.0))(
                    spec, deployment, outcome.results_dir, level
                )
                rounds += result.rounds
                stop = _early_stop(spec, rounds, step, reporter, deployment.gpus)
                if stop is not None and step < len(levels) - 1:
                    outcome.stopped_early, pruned = stop
                    per_level = (time.monotonic() - benchmark_started) / (step + 1)
                    outcome.saved_seconds = round(per_level * (len(levels) - step - 1), 1)
                    logger.info("trial %d: %s", trial_number, outcome.stopped_early)
                    break
        with _phase(outcome, Phase.score):
            outcome.score = score_result(spec, rounds, deployment.gpus)
        outcome.state = TrialState.pruned if pruned else TrialState.succeeded
        outcome.phase = None
    except BaseException as exc:
        outcome.state = _ending(exc)
        if outcome.state is TrialState.interrupted and time.monotonic() - started >= spec.timeouts.trial:
            outcome.state = TrialState.timed_out  # the whole-trial timeout, raised into the flow by Prefect
        outcome.error = f"{type(exc).__name__}: {exc}".strip().removesuffix(":")
        if isinstance(exc, Exception):
            logger.warning("trial %d %s in %s: %s", trial_number, outcome.state, outcome.phase, outcome.error)
        else:
            raise
    finally:
        # When interrupted, Prefect's API may already be gone with the Ctrl-C; call the work directly.
        direct = outcome.state in (TrialState.interrupted, TrialState.timed_out)
        if deployment is not None:
            cleanup_started = time.monotonic()
            (cleanup.fn if direct else cleanup)(spec, deployment)
            outcome.timings[Phase.cleanup.value] = round(time.monotonic() - cleanup_started, 3)
            outcome.engine_stopped_at = datetime.now(UTC)
            if outcome.state is not TrialState.succeeded:
                outcome.log_tail = deployer_for(spec).logs(deployment, _LOG_TAIL_LINES)
        held.close()
        outcome.timings["total"] = round(time.monotonic() - started, 3)
        (record_trial_outcome.fn if direct else record_trial_outcome)(run_id, outcome, rounds)
    if outcome.state not in (TrialState.succeeded, TrialState.pruned):
        tail = "\n".join((outcome.log_tail or "").splitlines()[-_MESSAGE_TAIL_LINES:])
        detail = f"\nengine log tail:\n{tail}" if tail else ""
        raise TrialFailed(f"trial {trial_number} {outcome.state.value} in {outcome.phase}: {outcome.error}{detail}")
    logger.info(
        "trial %d: score %.4g (%s), timings %s",
        trial_number,
        outcome.score.value if outcome.score else float("nan"),
        outcome.state.value if outcome.state is TrialState.pruned else "feasible" if outcome.feasible else "infeasible",
        outcome.timings,
    )
    return outcome
