from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import TrialOutcome
from tuning.spec import Configuration
from tuning.store import Store


@task(name="record_trial_start", cache_policy=NO_CACHE)
def record_trial_start(run_id: str, trial_number: int, params: Configuration, confirms: int | None = None) -> None:
    """Record that the trial has started, before any engine exists."""
    Store().start_trial(run_id, trial_number, params, confirms)


@task(name="record_trial_outcome", cache_policy=NO_CACHE)
def record_trial_outcome(run_id: str, outcome: TrialOutcome, rounds: list[RoundMetrics]) -> None:
    """Record how the trial ended, with its score, timings, log tail and benchmark rounds."""
    Store().finish_trial(run_id, outcome, rounds)
