"""`servetune dashboard`: optuna-dashboard serving a run's Optuna study, each trial carrying servetune's state,
reason and folder, so its history, slice and importance views read in servetune's words.

The run is a real tuning run (Prefect, the store, the local deployer, the real genai-bench) against the stand-in
engine of tests/support/openai_engine.py; the dashboard runs as a user runs it, as a subprocess, and is read
through optuna-dashboard's own JSON API.
"""

from __future__ import annotations

import json
import selectors
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows import tune
from tests.support.factories import make_spec
from tests.support.real_runs import wait_for
from tests.support.standin_runs import standin_spec
from tuning.cli import main
from tuning.errors import ExitCode
from tuning.runtime.settings import trial_dir
from tuning.search.study import REASON_LENGTH, TrialNote
from tuning.spec import TuningSpec
from tuning.store import RunKind, Store

# `python -m tuning.cli` with Ctrl-C handled as in a terminal: a runner that starts tests with SIGINT ignored would
# otherwise pass that on, and the dashboard would never see the SIGINT this test sends.
_AS_IN_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('tuning.cli', run_name='__main__', alter_sys=True)"
)


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's first line of output, without waiting past ``timeout`` for a process that prints none."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"servetune dashboard printed nothing in {timeout}s")
    return process.stdout.readline()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    return json.loads(body) if response.headers.get_content_type() == "application/json" else body.decode()


def _answers(url: str) -> bool:
    try:
        _get(url)
    except OSError:
        return False
    return True


@pytest.fixture
def dashboard() -> Iterator[list[subprocess.Popen[str]]]:
    """The dashboards a test starts; any still running at its end is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _start_dashboard(started: list[subprocess.Popen[str]], *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _AS_IN_A_TERMINAL, "dashboard", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    line = _first_line(process, timeout=60)
    assert line.startswith("optuna-dashboard: http://127.0.0.1:"), line
    return process, line.split(": ", 1)[1].strip()


def _spec(tiny_model: Path, folder: Path) -> TuningSpec:
    """Four configurations: two serve, one engine crashes, one vLLM would refuse (rejected without an engine)."""
    data = standin_spec("dashboard-run", tiny_model, folder, seqs=[1, 2, 4, 8], faults={2: "crash"}).model_dump(
        mode="json"
    )
    data["engine"]["args"] = {"max-num-batched-tokens": 4}
    return TuningSpec.model_validate(data)


def test_the_dashboard_serves_the_runs_study_with_servetunes_state_and_reason_of_each_trial(
    prefect_server: None, tiny_model: Path, tmp_path: Path, dashboard: list[subprocess.Popen[str]]
) -> None:
    summary = tune(_spec(tiny_model, tmp_path))
    run_id = summary.run_id

    process, url = _start_dashboard(dashboard, "dashboard-run", "--port", "0")
    base, _, path = url.partition("/dashboard")
    wait_for(lambda: _answers(f"{base}/api/meta"), 60, f"optuna-dashboard to answer at {base}")

    [study] = [s for s in _get(f"{base}/api/studies")["study_summaries"] if s["study_name"] == f"servetune-{run_id}"]
    assert path == f"/studies/{study['study_id']}"  # the printed URL opens this run's study
    assert {a["key"]: a["value"] for a in study["user_attrs"]} == {
        "run": run_id,
        "spec": "dashboard-run",
        "objective": "output_throughput (tok/s)",
    }
    assert "<html" in _get(url).lower()

    detail = _get(f"{base}/api/studies/{study['study_id']}?after=0")
    assert detail["objective_names"] == ["output_throughput (tok/s)"]
    trials = {t["number"]: (t["state"], {a["key"]: a["value"] for a in t["user_attrs"]}) for t in detail["trials"]}
    assert {n: (state, attrs["state"]) for n, (state, attrs) in trials.items()} == {
        0: ("Complete", "succeeded"),
        # A start that failed is taught to the sampler as an infeasible COMPLETE trial; its note says failed.
        1: ("Complete", "failed"),
        2: ("Complete", "succeeded"),
        3: ("Complete", "rejected"),
    }
    assert trials[1][1]["reason"].startswith("ready: EngineExited: the engine stopped before it was ready")
    assert trials[3][1]["reason"] == "rejected: vLLM refuses max-num-batched-tokens (4) below max-num-seqs (8)"
    assert "reason" not in trials[0][1]  # a feasible trial needs no excuse
    for number in (0, 1, 2):  # the folder of its engine log
        assert trials[number][1]["folder"] == str(trial_dir(run_id, number))
        assert Path(Store().trial(run_id, number).log_path or "").is_relative_to(trials[number][1]["folder"])
    assert "folder" not in trials[3][1]  # no engine was started for it

    # The importance view: optuna-dashboard computes it from the study's completed trials.
    [importances] = _get(f"{base}/api/studies/{study['study_id']}/param_importances")["param_importances"]
    assert [i["name"] for i in importances] == ["max-num-seqs"]

    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "interrupted" not in err  # Ctrl-C is how it stops, not a failure


def test_without_a_run_every_study_is_served(dashboard: list[subprocess.Popen[str]]) -> None:
    process, url = _start_dashboard(dashboard, "--port", "0")
    assert url.endswith("/dashboard") and _answers(f"{url.removesuffix('/dashboard')}/api/studies")
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 0


def test_without_the_extra_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # what an environment without the package imports

    assert main(["dashboard", "any-run"]) == ExitCode.bad_input
    assert "pip install 'servetune[dashboard]'" in capsys.readouterr().err


def test_an_unknown_run_or_one_without_a_study_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "no-such-run", "--port", "0"]) == ExitCode.not_found
    assert "no run with id or name 'no-such-run'" in capsys.readouterr().err

    recheck = Store().start_run(make_spec("rechecked"), kind=RunKind.recheck)
    assert main(["dashboard", recheck.id, "--port", "0"]) == ExitCode.not_found
    err = capsys.readouterr().err
    assert f"run {recheck.id} 'rechecked' (recheck) has no Optuna study" in err


def test_a_port_in_use_is_refused_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == ExitCode.bad_input
    err = capsys.readouterr().err
    assert f"--host 127.0.0.1 --port {port}: cannot listen there" in err and "--port 0 for a free one" in err


def test_a_trials_reason_is_its_first_line_cut_to_fit_a_table_cell() -> None:
    long = "x" * 500
    assert TrialNote("failed", f"ready: {long}\ntraceback...", "/f").attrs() == {
        "state": "failed",
        "reason": f"ready: {long}"[: REASON_LENGTH - 3] + "...",
        "folder": "/f",
    }
    assert TrialNote("succeeded").attrs() == {"state": "succeeded"}
