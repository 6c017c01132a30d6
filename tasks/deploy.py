from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from deployers import Deployer, Deployment
from tasks.retry_policy import retry_if_transient
from tuning.spec import Configuration


@task(name="deploy", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_if_transient, cache_policy=NO_CACHE)
def deploy(
    deployer: Deployer,
    run_id: str,
    trial_number: int,
    params: Configuration,
    workdir: str,
    devices: list[str] | None = None,
) -> Deployment:
    """Start the engine with the trial's parameters on ``devices`` (None: no GPU); return without waiting."""
    return deployer.deploy(run_id, trial_number, params, Path(workdir), devices)
