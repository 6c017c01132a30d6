from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.scoring import Score, score_trial
from tuning.spec import TuningSpec


@task(name="score", cache_policy=NO_CACHE)
def score_result(spec: TuningSpec, rounds: list[RoundMetrics], gpus: int) -> Score:
    """Score the rounds against the objectives, checking every SLO on every round the load mode counts."""
    return score_trial(spec, rounds, gpus)
