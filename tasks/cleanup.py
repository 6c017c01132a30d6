from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from deployers import Deployer, Deployment


@task(name="cleanup", cache_policy=NO_CACHE)
def cleanup(deployer: Deployer, deployment: Deployment) -> bool:
    """Stop and remove the engine (idempotent). True if it was still running."""
    return deployer.teardown(deployment)
