from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from deployers import Deployment, deployer_for
from tuning.spec import TuningSpec


@task(name="cleanup", cache_policy=NO_CACHE)
def cleanup(spec: TuningSpec, deployment: Deployment) -> bool:
    """Stop and remove the engine (idempotent). True if it was still running."""
    return deployer_for(spec).teardown(deployment)
