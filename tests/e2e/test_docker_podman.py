"""The Docker deployer against a real Docker Engine API (podman's service) running a real vLLM CPU engine.

Each test runs `servetune tune` as a user does, with `deployer.kind: docker`, and then asks the daemon itself
(`podman ps -a` filtered by servetune's labels) whether anything was left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from deployers._labels import OWNER, RUN
from tests.support.podman import Podman
from tests.support.real_runs import ctrl_c_once, real_engine_spec, start_cli, wait_for, write_spec
from tuning.spec import TuningSpec
from tuning.store import Store

pytestmark = pytest.mark.e2e


def docker_spec(name: str, model: Path, engine_venv: Path, podman: Podman, **sections: Any) -> TuningSpec:
    deployer = {
        "kind": "docker",
        "image": podman.engine_image,
        "pull": "never",
        "docker_host": podman.url,
        "mounts": podman.engine_mounts,
        "stop_grace": 10,
    }
    return real_engine_spec(name, model, engine_venv, deployer=deployer, **sections)


def run_to_end(spec_file: Path, home: Path) -> tuple[int, str]:
    cli = start_cli(spec_file, home)
    output, _ = cli.communicate(timeout=900)
    return cli.returncode, output.decode(errors="replace")


def test_a_tune_killed_mid_trial_resumes_sweeping_its_container_and_stores_two_real_trials(
    tmp_path: Path, tiny_model: Path, engine_venv: Path, podman: Podman
) -> None:
    spec = docker_spec("podman-resume", tiny_model, engine_venv, podman, search_space={"max-num-seqs": [2, 4]})
    spec_file, home = write_spec(spec, tmp_path), tmp_path / "home"

    first = start_cli(spec_file, home)
    try:
        # A bound, not a sleep: with two test workers on 2 cores the CLI, its temporary Prefect server and the flag
        # check can take minutes before the container exists.
        wait_for(lambda: podman.containers(f"{OWNER}"), 300, "the first trial's container")
    finally:
        # kill -9 of the whole job: nothing of servetune's gets to clean up; the container lives on in podman.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    [left] = podman.containers(OWNER)

    code, output = run_to_end(spec_file, home)

    assert code == 0, output[-4000:]
    assert podman.containers(OWNER) == [], f"{left} or a later container was not removed"
    store = Store(f"sqlite:///{home / 'servetune.db'}")
    [run] = [r for r in store.runs() if r.name == "podman-resume"]
    trials = store.trials(run.id)
    assert [(t.number, t.state) for t in trials] == [(0, "failed"), (1, "succeeded"), (2, "succeeded")], [
        t.error for t in trials
    ]
    assert "abandoned" in (trials[0].error or "")
    assert sorted(t.params["max-num-seqs"] for t in trials if t.state == "succeeded") == [2, 4]
    for trial in trials:
        # Saved from the container before it was removed: by the sweep for the killed run's trial.
        log = Path(home / "runs" / run.id / f"trial-{trial.number:03d}" / "engine.log").read_text()
        assert "vllm" in log.lower(), f"trial {trial.number}: {log[-500:]}"
    succeeded = [t for t in trials if t.state == "succeeded"]
    assert all(t.command and t.command[:2] == ["docker", "--host"] for t in succeeded)
    assert all(t.score and t.score > 0 for t in succeeded)


def test_an_engine_that_fails_at_start_is_recorded_with_its_log_and_its_container_removed(
    tmp_path: Path, tiny_model: Path, engine_venv: Path, podman: Podman
) -> None:
    broken = tmp_path / "models" / "broken-llama"
    shutil.copytree(tiny_model, broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps(config | {"architectures": ["NoSuchForCausalLM"]}))
    spec = docker_spec("podman-broken", broken, engine_venv, podman, search_space={"max-num-seqs": [2]})
    home = tmp_path / "home"

    code, output = run_to_end(write_spec(spec, tmp_path), home)

    assert code != 0 and "no trial succeeded" in output, output[-3000:]
    assert podman.containers(OWNER) == []
    store = Store(f"sqlite:///{home / 'servetune.db'}")
    run = store.find_run("podman-broken")
    [trial] = store.trials(run.id)
    assert trial.state == "failed" and "stopped before it was ready" in (trial.error or "")
    assert "NoSuchForCausalLM" in Path(home / "runs" / run.id / "trial-000" / "engine.log").read_text()


def test_an_engine_not_ready_in_time_is_a_ready_timeout_and_its_container_is_removed(
    tmp_path: Path, tiny_model: Path, engine_venv: Path, podman: Podman
) -> None:
    spec = docker_spec(
        "podman-slow",
        tiny_model,
        engine_venv,
        podman,
        search_space={"max-num-seqs": [2]},
        timeouts={"deploy": 30, "ready": 2, "benchmark": 300, "trial": 600},
    )
    home = tmp_path / "home"

    code, output = run_to_end(write_spec(spec, tmp_path), home)

    assert code != 0, output[-3000:]
    assert podman.containers(OWNER) == []
    store = Store(f"sqlite:///{home / 'servetune.db'}")
    [trial] = store.trials(store.find_run("podman-slow").id)
    assert trial.state == "timed_out" and "ready" in (trial.error or ""), trial.error


def test_ctrl_c_mid_trial_removes_the_container_and_records_the_trial_as_interrupted(
    tmp_path: Path, tiny_model: Path, engine_venv: Path, podman: Podman
) -> None:
    spec = docker_spec("podman-ctrl-c", tiny_model, engine_venv, podman, search_space={"max-num-seqs": [2, 4]})
    home = tmp_path / "home"
    cli = start_cli(write_spec(spec, tmp_path), home)
    code, output = ctrl_c_once(cli, lambda: podman.containers(OWNER), "the trial's container")
    assert code == 130, output[-3000:]
    assert podman.containers(OWNER) == []

    store = Store(f"sqlite:///{home / 'servetune.db'}")
    run = store.find_run("podman-ctrl-c")
    assert run.state == "interrupted"
    assert [(t.number, t.state) for t in store.trials(run.id)] == [(0, "interrupted")]
    assert podman.containers(f"{RUN}={run.id}") == []
