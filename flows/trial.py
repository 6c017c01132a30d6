"""One configuration: deploy -> wait_ready -> benchmark -> score, and cleanup whatever happens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

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
# A run name longer than this is cut: the Prefect UI shows names in narrow lists.
_NAME_CHARS = 60


def flag_abbreviation(flag: str) -> str:
    """A short, readable stand-in for an engine flag in a run's name: ``num`` is dropped; ``max`` with one other
    word leaves that word (``max-num-seqs`` -> ``seqs``); one word stays whole (``dtype``); several become their
    initials (``max-num-batched-tokens`` -> ``mbt``, ``gpu-memory-utilization`` -> ``gmu``)."""
    words = [w for w in flag.replace("_", "-").split("-") if w and w != "num"]
    if len(words) == 2 and words[0] == "max":
        words = words[1:]
    return words[0] if len(words) == 1 else "".join(w[0] for w in words) or flag


def trial_run_name(number: int, params: Mapping[str, Any], confirms: int | None = None) -> str:
    """``trial-3 seqs=8 mbt=1024``, plus `` (confirms 2)`` for a confirmation, within about 60 characters.

    Two flags sharing an abbreviation keep their full names, so a name never reads two ways."""
    short = {flag: flag_abbreviation(flag) for flag in params}
    shared = {a for a in short.values() if list(short.values()).count(a) > 1}
    pairs = " ".join(f"{short[f] if short[f] not in shared else f}={v}" for f, v in params.items()) or "defaults"
    suffix = f" (confirms {confirms})" if confirms is not None else ""
    head = f"trial-{number} {pairs}".rstrip()
    room = _NAME_CHARS - len(suffix)
    return (head if len(head) <= room else head[: room - 1].rstrip() + "…") + suffix


def _this_trial_run_name() -> str:
    parameters = flow_run.parameters
    return trial_run_name(parameters["trial_number"], parameters.get("params") or {}, parameters.get("confirms"))


@flow(name="trial", flow_run_name=_this_trial_run_name)
def trial(
    spec: TuningSpec, run_id: str, trial_number: int, params: Configuration, confirms: int | None = None
) -> TrialOutcome:
    """Deploy one configuration, wait until it serves, benchmark it, score it, and always clean up.

    ``confirms`` names the trial this one measures again after the search. Such a run, like a measurement of the
    engine's defaults (``params`` empty), reports to no pruner: both are references, measured whole.
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
            prunable = confirms is None and bool(params)
            reporter = Reporter(spec, run_id, trial_number, Store().url) if prunable else None
            results_dir, settles = lifecycle.results_dir(), lifecycle.settles(reporter, deployment.gpus)
            # Per scenario, genai-bench runs over ascending levels: all of them, or a ladder and bisection steps.
            for scenario in spec.benchmark.traffic_scenarios:
                for levels in lifecycle.load_steps(scenario):
                    load = benchmark.with_options(timeout_seconds=lifecycle.benchmark_seconds_left())
                    load(spec, deployer, deployment, results_dir, scenario, levels, settles)
        with lifecycle.phase(Phase.score):
            lifecycle.scored(score_result(spec, lifecycle.rounds, deployment.gpus))
    return lifecycle.result()
