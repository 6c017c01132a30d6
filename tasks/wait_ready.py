from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from deployers import Deployment, deployer_for
from tasks.retry_policy import retry_if_transient
from tuning.spec import TuningSpec


@task(name="wait_ready", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_if_transient, cache_policy=NO_CACHE)
def wait_ready(spec: TuningSpec, deployment: Deployment) -> float:
    """Wait until the engine completes a one-token request; return the seconds it took."""
    return deployer_for(spec).wait_ready(deployment, spec.timeouts.ready)
