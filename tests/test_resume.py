"""Kill -9 in the middle of a trial, run again: the run resumes, nothing is left, nothing is run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from tests.engine_specs import real_engine_spec
from tuning import process_group
from tuning.store import Store

pytestmark = pytest.mark.e2e


def _engines_of(owner_pid: int) -> list[str]:
    return [label for label in process_group.labelled("servetune/").values() if f"/{owner_pid}" in label]


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def _cli(spec_file: Path, home: Path) -> subprocess.Popen:
    env = {**os.environ, "SERVETUNE_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tuning.cli", "tune", str(spec_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_run_killed_mid_trial_resumes_without_leftovers_or_duplicates(
    tmp_path: Path, tiny_model: Path, engine_venv: Path
) -> None:
    spec = real_engine_spec("e2e-resume", tiny_model, engine_venv, search_space={"max-num-seqs": [2, 4]})
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    home = tmp_path / "home"

    first = _cli(spec_file, home)
    try:
        _wait_for(lambda: _engines_of(first.pid), 120, "the first trial's engine to start")
    finally:
        # kill -9: the tuning process and its temporary Prefect server get no chance to clean up.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert _engines_of(first.pid), "the killed run's engine is still up: the next run must sweep it"

    second = _cli(spec_file, home)
    output, _ = second.communicate(timeout=600)
    text = output.decode(errors="replace")
    assert second.returncode == 0, text[-4000:]
    assert _engines_of(first.pid) == [] and _engines_of(second.pid) == []

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
