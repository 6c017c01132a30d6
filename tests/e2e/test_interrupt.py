"""Ctrl-C in the middle of a trial: the engine is stopped and the trial recorded as interrupted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.real_runs import ctrl_c_once, processes_owned_by, real_engine_spec, start_cli, write_spec
from tuning.store import Store

pytestmark = pytest.mark.e2e


def test_ctrl_c_mid_trial_stops_the_engine_and_records_the_trial_as_interrupted(
    tmp_path: Path, tiny_model: Path, engine_venv: Path
) -> None:
    spec = real_engine_spec("e2e-ctrl-c", tiny_model, engine_venv, search_space={"max-num-seqs": [2, 4]})
    home = tmp_path / "home"
    cli = start_cli(write_spec(spec, tmp_path), home)
    code, output = ctrl_c_once(cli, lambda: processes_owned_by(cli.pid), "the trial's engine to start")
    assert code == 130, output[-3000:]
    assert processes_owned_by(cli.pid) == []

    store = Store(f"sqlite:///{home / 'servetune.db'}")
    run = store.find_run("e2e-ctrl-c")
    assert run.state == "interrupted"
    assert [(t.number, t.state) for t in store.trials(run.id)] == [(0, "interrupted")]
