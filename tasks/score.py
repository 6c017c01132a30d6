from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.scoring import Score, score
from tuning.spec import TuningSpec


@task(name="score", cache_policy=NO_CACHE)
def score_result(spec: TuningSpec, rounds: list[RoundMetrics], gpus: int) -> Score:
    """Score the rounds against the objective, checking every SLO on every round."""
    return score(rounds, spec.objectives, spec.slos, gpus, ranks=spec.objective)
