"""Faults of Prefect itself during a tuning run: its server restarted, a pool's worker killed. Each runs `servetune
tune` as a user runs it, a subprocess against a Prefect server of the test's own (tests/support/prefect_server.py),
with the stand-in engine of tests/support/openai_engine.py (a trial in seconds). docs/reliability.md lists them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.prefect_server import BIN, PrivateServer, clean_env, private_prefect_server, start_tune
from tests.support.real_runs import wait_for, write_spec
from tests.support.standin_runs import left_behind, owned_by, standin_spec
from tuning.errors import ExitCode, NotFound
from tuning.runtime import process_group
from tuning.store import Store

TUNE_RUN = 90  # seconds, for a two-trial run of the stand-in engine with a server restart in it


@pytest.fixture
def prefect(tmp_path: Path) -> Iterator[PrivateServer]:
    with private_prefect_server(tmp_path / "prefect-server") as server:
        yield server


@pytest.fixture
def tune_processes() -> Iterator[list[subprocess.Popen[str]]]:
    """`servetune tune` processes the test starts; whatever ends the test, none of them, nor an engine of theirs,
    outlives it."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for tune in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(tune.pid, signal.SIGKILL)
        tune.wait(timeout=30)
        for pgid, label in owned_by(tune.pid).items():
            process_group.stop(pgid, label, grace=5)


def _ended(store: Store, run_id: str, number: int) -> bool:
    trial = store.trial(run_id, number)
    return trial is not None and trial.state != "running"


def _trials(store: Store, run_id: str) -> list[tuple[int, int, str, str | None]]:
    return [(t.number, t.params["max-num-seqs"], t.state, t.phase) for t in store.trials(run_id)]


def _tune_until_the_first_engine(
    name: str,
    prefect: PrivateServer,
    model: Path,
    folder: Path,
    started: list[subprocess.Popen[str]],
    **env: str,
) -> tuple[Store, subprocess.Popen[str], Path]:
    """`servetune tune` of a two-trial stand-in spec against ``prefect``, once its first engine is up: its store, its
    process and the file its output goes to."""
    home, output = folder / "home", folder / "tune.out"
    home.mkdir()
    spec_file = write_spec(standin_spec(name, model, folder, seqs=[2, 4]), folder)
    tune = start_tune(spec_file, home, prefect.api, output, **env)
    started.append(tune)
    wait_for(lambda: owned_by(tune.pid) or tune.poll() is not None, 60, "the first trial's engine")
    assert tune.poll() is None, output.read_text()[-3000:]
    return Store(f"sqlite:///{home / 'servetune.db'}"), tune, output


def test_a_prefect_server_restarted_mid_trial_loses_no_trial_and_the_run_goes_on(
    prefect: PrivateServer, tiny_model: Path, tmp_path: Path, tune_processes: list[subprocess.Popen[str]]
) -> None:
    store, tune, output = _tune_until_the_first_engine(
        "fault-prefect-restart", prefect, tiny_model, tmp_path, tune_processes
    )

    # The server goes away once the first trial's engine exists and comes back only after that trial has recorded
    # its outcome, so the trial's end (its flow run's final state) and the next trial's start meet a server that is
    # gone, then one starting.
    prefect.stop()
    run = store.find_run("fault-prefect-restart")
    wait_for(lambda: _ended(store, run.id, 0) or tune.poll() is not None, 60, "trial 0's outcome")
    prefect.start()
    tune.wait(timeout=TUNE_RUN)

    said = output.read_text()
    assert tune.returncode == 0, said[-4000:] + prefect.logs()
    run = store.find_run(run.id)
    assert run.state == "completed"
    assert _trials(store, run.id) == [(0, 2, "succeeded", None), (1, 4, "succeeded", None)]
    assert left_behind(run.id) == {}


def test_a_prefect_server_gone_longer_than_its_client_retries_ends_the_run_naming_it_and_the_run_resumes(
    prefect: PrivateServer, tiny_model: Path, tmp_path: Path, tune_processes: list[subprocess.Popen[str]]
) -> None:
    # One retry (about 2 s) stands for an outage longer than however many retries the client is allowed.
    store, tune, output = _tune_until_the_first_engine(
        "fault-prefect-gone", prefect, tiny_model, tmp_path, tune_processes, PREFECT_CLIENT_MAX_RETRIES="1"
    )
    prefect.stop()
    gave_up = "servetune: lost the Prefect server"
    wait_for(lambda: gave_up in output.read_text() or tune.poll() is not None, 180, "servetune to give the server up")
    # Back now, so Prefect's exit hook can deliver the events it holds (it tries each for seconds while the server
    # is down) and the process ends.
    prefect.start()
    tune.wait(timeout=TUNE_RUN)

    said = output.read_text()
    assert tune.returncode == ExitCode.failed, said[-4000:]
    assert f"servetune: lost the Prefect server at {prefect.api}: ConnectError" in said, said[-4000:]
    assert "run the same spec again to resume it" in said
    # Prefect's run logs show the flows' tracebacks; none escapes servetune's own command.
    assert "in cmd_tune" not in said, said[-4000:]
    run = store.find_run("fault-prefect-gone")
    assert run.state == "failed" and (run.message or "").startswith(f"lost the Prefect server at {prefect.api}")
    started = store.trials(run.id)
    assert started and all(t.state != "running" for t in started), _trials(store, run.id)
    assert left_behind(run.id) == {}

    # Run again, the same spec resumes the run: what was measured stands, the rest is measured, each once.
    again = start_tune(tmp_path / "spec.yaml", tmp_path / "home", prefect.api, tmp_path / "again.out")
    tune_processes.append(again)
    again.wait(timeout=TUNE_RUN)
    assert again.returncode == 0, (tmp_path / "again.out").read_text()[-4000:]
    assert store.find_run(run.id).state == "completed"
    assert _trials(store, run.id) == [(0, 2, "succeeded", None), (1, 4, "succeeded", None)]
    assert left_behind(run.id) == {}


def _deploy_trial_on(api: str, pool: str) -> None:
    """A process pool with its `trial` deployment, as `prefect deploy --all` makes it from prefect.yaml, its flow
    runs started in this repository (prefect.yaml's pull step does that for a worker's clone)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.actions import WorkPoolCreate

    with SyncPrefectClient(api) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = client.create_flow_from_name("trial")
        client.create_deployment(
            flow_id,
            pool,
            work_pool_name=pool,
            entrypoint="flows/trial.py:trial",
            job_variables={"working_dir": str(REPO)},
        )


def _worker_online(api: str, pool: str) -> bool:
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api) as client:
        return any(w.status == "ONLINE" for w in client.read_workers_for_work_pool(pool))


def test_a_pool_worker_killed_mid_trial_fails_the_trial_naming_its_flow_run_and_leaves_no_engine(
    prefect: PrivateServer, tiny_model: Path, tmp_path: Path, tune_processes: list[subprocess.Popen[str]]
) -> None:
    home, output = tmp_path / "home", tmp_path / "tune.out"
    home.mkdir()
    store = Store(f"sqlite:///{home / 'servetune.db'}")
    _deploy_trial_on(prefect.api, "cpu-doomed")
    worker_env = clean_env(
        PREFECT_API_URL=prefect.api,
        PREFECT_HOME=str(tmp_path / "worker-prefect"),
        PREFECT_WORKER_QUERY_SECONDS="1",
        SERVETUNE_HOME=str(home),
    )
    argv = [str(BIN / "prefect"), "worker", "start", "--pool", "cpu-doomed", "--type", "process", "--name", "w"]
    worker = process_group.start(argv, tmp_path / "worker.log", worker_env, "tests/prefect-worker", cwd=REPO)
    try:
        wait_for(lambda: _worker_online(prefect.api, "cpu-doomed"), 60, "the worker")
        # The engine takes 30 s to listen: the worker dies while the trial waits for it. The run has a second
        # trial, which no worker is left to take.
        spec = standin_spec(
            "fault-worker-killed",
            tiny_model,
            tmp_path,
            seqs=[2, 4],
            faults={2: "slow:30"},
            hardware={"pool": "cpu-doomed"},
            timeouts={"deploy": 3, "ready": 12, "benchmark": 10, "trial": 15, "pool_pickup": 5},
        )
        tune = start_tune(write_spec(spec, tmp_path), home, prefect.api, output)
        tune_processes.append(tune)

        def engine() -> dict[int, str]:
            with contextlib.suppress(NotFound):
                return left_behind(store.find_run("fault-worker-killed").id)
            return {}

        wait_for(lambda: engine() or tune.poll() is not None, 60, "the trial's engine on the worker")
        assert tune.poll() is None, output.read_text()[-3000:] + process_group.tail(tmp_path / "worker.log", 40)
        [(_, label)] = engine().items()
        flow_run_process = int(label.rsplit("/", 1)[1])  # the engine's owner: the trial's flow run, on the worker
        # As the kernel's OOM killer or a lost machine would: the worker and the flow run it started, at once.
        os.killpg(worker, signal.SIGKILL)
        os.killpg(os.getpgid(flow_run_process), signal.SIGKILL)
        tune.wait(timeout=TUNE_RUN)
    finally:
        process_group.stop(worker, "tests/prefect-worker", grace=5)
        for run in store.runs():  # an engine whose owner the test killed, if the run failed to sweep it
            for pgid, label in left_behind(run.id).items():
                process_group.stop(pgid, label, grace=5)

    said = output.read_text()
    assert tune.returncode == ExitCode.failed, said[-4000:]
    run = store.find_run("fault-worker-killed")
    assert _trials(store, run.id) == [(0, 2, "failed", None), (1, 4, "failed", None)]
    lost, unpicked = (t.error or "" for t in store.trials(run.id))
    [flow_run] = re.findall(r"trial 0: flow run ([\w-]+) on pool cpu-doomed", said)
    assert lost == (
        # Given up after timeouts.trial, the deployer's stop_grace (2 s in standin_spec) and 30 s to record an outcome.
        f"trial flow run {flow_run} still Running after {15 + 2 + 30} s, past timeouts.trial (15 s): its worker or "
        "its process "
        "died, or it hangs; cancelled"
    )
    assert "no worker of pool 'cpu-doomed' picked trial 1 up within 5 s" in unpicked
    assert run.state == "failed" and f"trial flow run {flow_run} still Running" in (run.message or "")
    # The engine the killed flow run left is swept when the run ends (its owner is dead).
    assert left_behind(run.id) == {}
