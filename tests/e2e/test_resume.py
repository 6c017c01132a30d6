"""Kill -9 in the middle of a trial, run again: the run resumes, nothing is left, nothing is run twice."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import optuna
import pytest

from tests.support.real_runs import processes_owned_by, real_engine_spec, start_cli, wait_for, write_spec
from tuning.store import Store

pytestmark = pytest.mark.e2e


def test_a_run_killed_mid_trial_resumes_without_leftovers_or_duplicates(
    tmp_path: Path, tiny_model: Path, engine_venv: Path
) -> None:
    spec = real_engine_spec("e2e-resume", tiny_model, engine_venv, search_space={"max-num-seqs": [2, 4]})
    spec_file = write_spec(spec, tmp_path)
    home = tmp_path / "home"

    first = start_cli(spec_file, home)
    try:
        wait_for(lambda: processes_owned_by(first.pid), 120, "the first trial's engine to start")
    finally:
        # kill -9: the tuning process and its temporary Prefect server get no chance to clean up.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert processes_owned_by(first.pid), "the killed run's engine is still up: the next run must sweep it"

    second = start_cli(spec_file, home)
    output, _ = second.communicate(timeout=600)
    text = output.decode(errors="replace")
    assert second.returncode == 0, text[-4000:]
    assert processes_owned_by(first.pid) == [] and processes_owned_by(second.pid) == []

    store = Store(f"sqlite:///{home / 'servetune.db'}")
    [run] = [r for r in store.runs() if r.name == "e2e-resume"]  # one run, continued
    assert run.state == "completed"
    trials = store.trials(run.id)
    assert [(t.number, t.state) for t in trials] == [(0, "failed"), (1, "succeeded"), (2, "succeeded")]
    assert "abandoned" in (trials[0].error or "")
    # Each configuration measured exactly once; the abandoned one was asked again.
    assert sorted(t.params["max-num-seqs"] for t in trials if t.state == "succeeded") == [2, 4]
    study = optuna.load_study(study_name=f"servetune-{run.id}", storage=store.url)
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]
