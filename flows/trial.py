"""One configuration: deploy -> wait_ready -> benchmark -> score, and cleanup whatever happens."""

from __future__ import annotations

from prefect import flow

from deployers import deployer_for
from flows._trial_lifecycle import TrialFailed, TrialLifecycle
from tasks import benchmark, deploy, score_result, wait_ready
from tuning.evaluation.outcome import Phase, TrialOutcome
from tuning.search.study import Reporter
from tuning.spec import Configuration, TuningSpec
from tuning.store import Store

__all__ = ["TrialFailed", "trial"]

# The deployer's own ready deadline fires first and says why; Prefect's is the backstop for a hung probe.
_READY_BACKSTOP_SECONDS = 30.0


@flow(name="trial", flow_run_name="trial-{trial_number}")
def trial(
    spec: TuningSpec, run_id: str, trial_number: int, params: Configuration, confirms: int | None = None
) -> TrialOutcome:
    """Deploy one configuration, wait until it serves, benchmark it, score it, and always clean up.

    ``confirms`` names the trial this one measures again after the search; such a run reports to no pruner.
    """
    deployer = deployer_for(spec)
    with TrialLifecycle(spec, deployer, run_id, trial_number, params, confirms) as lifecycle:
        with lifecycle.phase(Phase.deploy):
            devices = lifecycle.claim_devices()
            deploy_engine = deploy.with_options(timeout_seconds=spec.timeouts.deploy)
            deployment = lifecycle.deployed(
                deploy_engine(deployer, run_id, trial_number, params, str(lifecycle.workdir), devices)
            )
        with lifecycle.phase(Phase.ready):
            ready_backstop = spec.timeouts.ready + _READY_BACKSTOP_SECONDS
            wait_ready.with_options(timeout_seconds=ready_backstop)(deployer, deployment, spec.timeouts.ready)
        with lifecycle.phase(Phase.benchmark):
            reporter = Reporter(spec, run_id, trial_number, Store().url) if confirms is None else None
            results_dir, settles = lifecycle.results_dir(), lifecycle.settles(reporter, deployment.gpus)
            # Per scenario, genai-bench runs over ascending levels: all of them, or a ladder and bisection steps.
            for scenario in spec.benchmark.traffic_scenarios:
                for levels in lifecycle.load_steps(scenario):
                    load = benchmark.with_options(timeout_seconds=lifecycle.benchmark_seconds_left())
                    load(spec, deployer, deployment, results_dir, scenario, levels, settles)
        with lifecycle.phase(Phase.score):
            lifecycle.scored(score_result(spec, lifecycle.rounds, deployment.gpus))
    return lifecycle.result()
