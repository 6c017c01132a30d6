"""deploy and wait_ready retry transient failures, and only those (real Prefect task engine)."""

from __future__ import annotations

import pytest
from prefect import task

from deployers import DeployError, TransientDeployError
from tasks.deploy import deploy
from tasks.retry_policy import retry_if_transient
from tasks.wait_ready import wait_ready


def _flaky(first_error: Exception):
    calls: list[int] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_if_transient, persist_result=False)
    def step() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise first_error
        return "started"

    return step, calls


def test_a_transient_deploy_error_is_retried_until_it_succeeds(prefect_server: None) -> None:
    step, calls = _flaky(TransientDeployError("port taken in a race"))
    assert step() == "started"
    assert len(calls) == 2


def test_a_lasting_deploy_error_is_not_retried(prefect_server: None) -> None:
    step, calls = _flaky(DeployError("engine interpreter does not exist"))
    with pytest.raises(DeployError, match="does not exist"):
        step()
    assert len(calls) == 1


def test_deploy_and_wait_ready_carry_the_transient_retry_policy() -> None:
    for prefect_task in (deploy, wait_ready):
        assert prefect_task.retries >= 1
        assert prefect_task.retry_condition_fn is retry_if_transient
