"""Helpers for tests that drive the real vLLM CPU engine: small specs (a trial takes about a minute), and
`servetune tune` run as a user runs it, as a subprocess in its own session like a terminal job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tuning.runtime import process_group
from tuning.spec import TuningSpec

# The KV cache a tiny model needs, and the model worker inside the engine-core process: vLLM then starts two
# processes instead of three, and is ready in ~27 s instead of ~40 s on 2 cores (every e2e trial pays it).
FAST_START_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}


def real_engine_spec(name: str, model: Path, engine_venv: Path, **sections: Any) -> TuningSpec:
    data: dict[str, Any] = {
        "name": name,
        "model": {"path": str(model), "served_name": "tiny"},
        "engine": {
            "venv": str(engine_venv),
            "args": {"dtype": "float32", "enforce-eager": True, "max-model-len": 512},
            "env": FAST_START_ENV,
        },
        "deployer": {"kind": "local", "stop_grace": 10},
        "search_space": {"max-num-seqs": [2, 4]},
        "benchmark": {
            "traffic_scenarios": ["D(40,16)"],
            "concurrency": [2],
            "max_requests_per_run": 6,
            "extra_request_params": {"ignore_eos": True},
        },
        "slos": [{"metric": "error_rate", "max": 0.0}],
        "confirmation": {"top": 0},
        "measure_defaults": False,  # tests that want trial 0 to be the defaults turn it on
        "timeouts": {"deploy": 30, "ready": 240, "benchmark": 300, "trial": 600},
    }
    data.update(sections)
    return TuningSpec.model_validate(data)


def write_spec(spec: TuningSpec, folder: Path) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    return path


# `python -m tuning.cli`, with Ctrl-C handled as in a terminal's foreground job. A shell without job control (a CI
# runner's, or `cmd &`) starts background jobs with SIGINT ignored; children inherit that, and Python then never
# raises KeyboardInterrupt, so a Ctrl-C test would test the runner instead of servetune.
_AS_IN_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('tuning.cli', run_name='__main__', alter_sys=True)"
)


def start_cli(spec_file: Path, home: Path) -> subprocess.Popen:
    """`servetune tune SPEC` with its own data directory and a temporary Prefect server of its own."""
    env = {**os.environ, "SERVETUNE_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", _AS_IN_A_TERMINAL, "tune", str(spec_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def processes_owned_by(pid: int) -> list[str]:
    """Labels of live engines and benchmarks started by the servetune process ``pid``."""
    return [label for label in process_group.labelled("servetune/").values() if f"/{pid}/" in f"{label}/"]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def ctrl_c_once(cli: subprocess.Popen, started: Callable[[], object], what: str) -> tuple[int, str]:
    """Once ``started()`` holds, Ctrl-C the job as a terminal does (SIGINT to servetune and its temporary Prefect
    server); its exit code and output. A job that does not end is killed."""
    try:
        wait_for(started, 120, what)
        os.killpg(cli.pid, signal.SIGINT)
        output, _ = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
    return cli.returncode, output.decode(errors="replace")
