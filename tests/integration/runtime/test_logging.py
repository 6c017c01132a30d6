"""What servetune's own loggers say inside a flow run reaches that run's logs on the Prefect server, both in a
process the CLI starts and in a flow run a worker of a servetune pool starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.settings import PREFECT_API_URL
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect.workers.process import ProcessJobConfiguration

from tests.support.paths import REPO
from tuning.runtime.pools import Pool
from tuning.runtime.run_logs import EXTRA_LOGGERS_ENV, LOGGERS, extra_loggers

# A flow that logs as a deployer does, at INFO, and prints its flow run's id. `PRELUDE` is what the process does
# before Prefect is imported.
_SCRIPT = """
{prelude}
import logging, sys
from prefect import flow
from prefect.runtime import flow_run

@flow
def deploys() -> str:
    logging.getLogger("deployers.some").info("pulled image %s", sys.argv[1])
    return str(flow_run.id)

print(deploys())
"""
_CLI = "from tuning.runtime.run_logs import attach_to_prefect; attach_to_prefect()  # what `servetune` does first"
_WORKER = "import flows  # what a flow run's entrypoint (flows/tune.py, flows/trial.py) imports"


def pool_env() -> dict[str, str]:
    """The environment a process worker of a servetune pool gives its flow runs (besides the worker's own)."""
    template = Pool(name="cpu", gpu_class=None, slots=1).base_job_template()
    job = run_coro_as_sync(ProcessJobConfiguration.from_template_and_values(template, {}))
    assert job is not None
    return {key: value for key, value in job.env.items() if value is not None}


def logs_of(flow_run_id: UUID, mark: str, timeout: float = 60.0) -> list[str]:
    """The run's log lines from servetune's deployer logger naming ``mark``, once they have arrived."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            found = [log.message for log in logs if log.name == "deployers.some" and mark in log.message]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


@pytest.mark.parametrize(("prelude", "extra_env"), [(_CLI, {}), (_WORKER, None)], ids=["cli", "worker"])
def test_a_deployer_message_reaches_the_flow_runs_logs(
    prefect_server: None, prelude: str, extra_env: dict[str, str] | None
) -> None:
    env = {key: value for key, value in os.environ.items() if key != EXTRA_LOGGERS_ENV}
    env |= {"PREFECT_API_URL": str(PREFECT_API_URL.value())} | (pool_env() if extra_env is None else extra_env)
    mark = uuid.uuid4().hex
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(prelude=prelude), mark],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    flow_run_id = UUID(done.stdout.strip().splitlines()[-1])

    assert logs_of(flow_run_id, mark) == [f"pulled image {mark}"]


def test_a_users_extra_loggers_are_kept_beside_servetunes() -> None:
    servetune = list(LOGGERS)
    assert extra_loggers(None).split(",") == servetune
    assert extra_loggers("mylib, deployers").split(",") == ["mylib", "deployers", *servetune[:3], *servetune[4:]]
    pool = Pool(name="cpu", gpu_class=None, slots=1, job_variables={"env": {EXTRA_LOGGERS_ENV: "mylib"}})
    env = pool.base_job_template()["variables"]["properties"]["env"]["default"]
    assert env[EXTRA_LOGGERS_ENV].split(",") == ["mylib", *servetune]
