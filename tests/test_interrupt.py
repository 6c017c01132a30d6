"""Ctrl-C in the middle of a trial: the engine is stopped and the trial recorded as interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.engine_specs import real_engine_spec
from tuning import process_group
from tuning.store import Store

pytestmark = pytest.mark.e2e


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def test_ctrl_c_mid_trial_stops_the_engine_and_records_the_trial_as_interrupted(
    tmp_path: Path, tiny_model: Path, engine_venv: Path
) -> None:
    spec = real_engine_spec("e2e-ctrl-c", tiny_model, engine_venv, search_space={"max-num-seqs": [2, 4]})
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    home = tmp_path / "home"
    env = {**os.environ, "SERVETUNE_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    # A new session stands in for the terminal's foreground process group, which Ctrl-C signals whole.
    cli = subprocess.Popen(
        [sys.executable, "-m", "tuning.cli", "tune", str(spec_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(
            lambda: (
                process_group.labelled("servetune/")
                and any(label.endswith(f"/{cli.pid}") for label in process_group.labelled("servetune/").values())
            ),
            120,
            "the trial's engine to start",
        )
        os.killpg(cli.pid, signal.SIGINT)
        output, _ = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
    text = output.decode(errors="replace")
    assert cli.returncode == 130, text[-3000:]
    assert not [label for label in process_group.labelled("servetune/").values() if f"/{cli.pid}" in label]

    store = Store(f"sqlite:///{home / 'servetune.db'}")
    run = store.find_run("e2e-ctrl-c")
    assert run.state == "interrupted"
    trials = store.trials(run.id)
    assert [(t.number, t.state) for t in trials] == [(0, "interrupted")]
