"""Ctrl-C in the middle of a trial: the engine is stopped and the trial recorded as interrupted."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.support.real_runs import processes_owned_by, real_engine_spec, start_cli, wait_for, write_spec
from tuning.store import Store

pytestmark = pytest.mark.e2e


def test_ctrl_c_mid_trial_stops_the_engine_and_records_the_trial_as_interrupted(
    tmp_path: Path, tiny_model: Path, engine_venv: Path
) -> None:
    spec = real_engine_spec("e2e-ctrl-c", tiny_model, engine_venv, search_space={"max-num-seqs": [2, 4]})
    home = tmp_path / "home"
    cli = start_cli(write_spec(spec, tmp_path), home)
    try:
        wait_for(lambda: processes_owned_by(cli.pid), 120, "the trial's engine to start")
        # A terminal's Ctrl-C signals the whole foreground job: servetune and its temporary Prefect server.
        os.killpg(cli.pid, signal.SIGINT)
        output, _ = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
    assert cli.returncode == 130, output.decode(errors="replace")[-3000:]
    assert processes_owned_by(cli.pid) == []

    store = Store(f"sqlite:///{home / 'servetune.db'}")
    run = store.find_run("e2e-ctrl-c")
    assert run.state == "interrupted"
    assert [(t.number, t.state) for t in store.trials(run.id)] == [(0, "interrupted")]
