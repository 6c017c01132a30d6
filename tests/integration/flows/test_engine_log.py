"""While an engine starts, its own log lines reach the trial's flow run logs in Prefect: its warnings at WARNING,
the rest at DEBUG, secrets redacted; the whole log stays in the trial's engine.log. The trial's flow run is named
with its parameters.

`servetune tune` runs as a user runs it (a process of its own, against the session's Prefect server) with the
stand-in engine, started by the real local deployer, printing lines as vLLM does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import yaml
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.settings import PREFECT_API_URL

from tests.support import openai_engine
from tests.support.paths import REPO
from tests.support.standin_runs import standin_spec
from tuning.runtime.run_logs import EXTRA_LOGGERS_ENV

WARNING_LINE = "WARNING 12-02 10:00:01 [config.py:1432] max_num_batched_tokens is below max_model_len {mark}"
INFO_LINE = "INFO 12-02 10:00:02 [api_server.py:1024] Starting vLLM API server {mark}"
SECRET_LINE = "WARNING 12-02 10:00:03 [envs.py:7] HF_TOKEN=$HF_TOKEN {mark}"
# What `servetune` does, with the engine's DEBUG lines let through to Prefect (hidden by default).
_CLI = (
    "import logging, sys; logging.getLogger('servetune.engine').setLevel(logging.DEBUG); "
    "from tuning.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_the_engines_warnings_reach_the_trials_prefect_logs_and_its_whole_log_stays_in_engine_log(
    prefect_server: None, tiny_model: Path, tmp_path: Path
) -> None:
    mark, secret = uuid.uuid4().hex, f"hf_{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
    lines = [line.format(mark=mark) for line in (WARNING_LINE, INFO_LINE, SECRET_LINE)]
    name = f"engine-log-{mark[:8]}"
    spec = standin_spec(name, tiny_model, tmp_path, seqs=[2]).model_dump(mode="json")
    spec["engine"]["env"][openai_engine.LOG_VAR] = json.dumps(lines)
    spec["engine"]["pass_env"] = ["HF_TOKEN"]
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != EXTRA_LOGGERS_ENV}
    env |= {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "SERVETUNE_HOME": str(home), "HF_TOKEN": secret}

    done = subprocess.run(
        [sys.executable, "-c", _CLI, "tune", str(spec_file)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with get_client(sync_client=True) as client:
        [tune_run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        under = FlowRunFilterParentFlowRunId(any_=[tune_run.id])
        [trial_run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id=under))
        assert trial_run.name == "trial-0 seqs=2"  # named with its parameter, max-num-seqs abbreviated
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[trial_run.id])))
    engine = {log.message: log.level for log in logs if log.name == "servetune.engine"}
    assert engine.get(lines[0]) == 30  # WARNING
    assert engine.get(lines[1]) == 10  # DEBUG
    redacted = lines[2].replace("$HF_TOKEN", "***")
    assert engine.get(redacted) == 30
    assert not any(secret in log.message for log in logs)
    [log_file] = home.glob("runs/*/trial-000/engine.log")
    written = log_file.read_text()
    assert lines[0] in written and lines[1] in written and f"HF_TOKEN={secret}" in written
