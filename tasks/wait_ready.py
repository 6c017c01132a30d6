from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from deployers import Deployer, Deployment
from tasks.retry_policy import retry_if_transient


@task(name="wait_ready", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_if_transient, cache_policy=NO_CACHE)
def wait_ready(deployer: Deployer, deployment: Deployment, timeout: float) -> float:
    """Wait until the engine completes a one-token request, for up to ``timeout`` seconds; return the seconds it
    took."""
    return deployer.wait_ready(deployment, timeout)
