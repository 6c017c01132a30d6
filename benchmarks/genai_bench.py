"""Run genai-bench as a CLI subprocess against a deployed engine, reading each round as it lands."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from benchmarks.results import ResultParseError, is_round_file, parse_round
from tuning.evaluation.metrics import BenchmarkResult, RoundMetrics
from tuning.runtime import process_group
from tuning.runtime.network import no_proxy_env
from tuning.spec import BenchmarkSpec, ModelSpec

_POLL_SECONDS = 0.5

Settles = Callable[[list[RoundMetrics]], bool]
"""Told the rounds so far after each one lands; True ends the benchmark there."""


class BenchmarkError(RuntimeError):
    """genai-bench failed or produced no result; the message carries the tail of its log."""


def genai_bench_executable() -> str:
    beside = Path(sys.executable).parent / "genai-bench"
    if beside.exists():
        return str(beside)
    found = shutil.which("genai-bench")
    if found is None:
        raise BenchmarkError("genai-bench is not installed in servetune's environment (pip install genai-bench)")
    return found


def genai_bench_command(
    endpoint: str, model: ModelSpec, api_backend: str, spec: BenchmarkSpec, out_dir: Path
) -> list[str]:
    argv = [
        genai_bench_executable(),
        "benchmark",
        "--api-backend", api_backend,
        "--api-base", endpoint,
        # genai-bench insists on a key for the vllm backend; a local engine started without --api-key
        # accepts any, and this placeholder is no secret (genai-bench copies its argv into its results).
        "--api-key", "servetune-local",
        "--api-model-name", model.name,
        "--model-tokenizer", model.tokenizer_path,
        "--task", spec.task.value,
        "--max-time-per-run", str(spec.max_time_per_run),
        "--max-requests-per-run", str(spec.max_requests_per_run),
        "--experiment-base-dir", str(out_dir.parent),
        "--experiment-folder-name", out_dir.name,
        "--log-dir", str(out_dir.parent / "genai-bench-logs"),
    ]  # fmt: skip
    for scenario in spec.traffic_scenarios:
        argv += ["--traffic-scenario", scenario]
    for level in spec.concurrency:
        argv += ["--num-concurrency", str(level)]
    if spec.extra_request_params:
        argv += ["--additional-request-params", json.dumps(spec.extra_request_params)]
    return argv


def landed_rounds(out_dir: Path, seen: set[str], finished: bool) -> list[RoundMetrics]:
    """Rounds genai-bench has written since the last look, oldest first.

    A file still being written is not valid JSON yet: it is read on a later look, unless genai-bench has ended.
    """
    fresh = [p for p in out_dir.glob("*.json") if p.name not in seen and is_round_file(p)]
    rounds = []
    for path in sorted(fresh, key=lambda p: (p.stat().st_mtime, p.name)):
        try:
            rounds.append(parse_round(path))
        except ResultParseError:
            if finished:
                raise
            break  # keep the order: a later file waits for this one
        seen.add(path.name)
    return rounds


def run_genai_bench(
    endpoint: str,
    model: ModelSpec,
    api_backend: str,
    spec: BenchmarkSpec,
    out_dir: Path,
    label: str,
    stop_grace: float = 10.0,
    settles: Settles | None = None,
) -> BenchmarkResult:
    """Run one genai-bench over the spec's scenarios and concurrency levels, reading each round as it lands.

    After each round, ``settles(rounds so far)`` may end the benchmark there; genai-bench is then stopped at
    once. It is also stopped once its last round has landed: what it does after that (an Excel workbook and
    plots) measures nothing, and :func:`benchmarks.report.start_report` makes them once the engine is gone.

    genai-bench runs in its own process group, so however this function is left (an error, a Prefect
    timeout raised into it, Ctrl-C), the ``finally`` below stops it and everything it spawned.
    """
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a retried benchmark must not mix its rounds with an earlier attempt's
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = out_dir.parent / f"{out_dir.name}.log"
    host = urlparse(endpoint).hostname or "127.0.0.1"
    env = no_proxy_env(os.environ, [host]) | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    argv = genai_bench_command(endpoint, model, api_backend, spec, out_dir)
    expected = len(spec.traffic_scenarios) * len(spec.concurrency)
    rounds: list[RoundMetrics] = []
    seen: set[str] = set()
    started = time.monotonic()
    pid = process_group.start(argv, log_path, env, label=label, cwd=out_dir.parent)
    try:
        while True:
            code = process_group.exit_code(pid)
            for round_ in landed_rounds(out_dir, seen, finished=code is not None):
                rounds.append(round_)
                if settles is not None and settles(rounds):
                    return BenchmarkResult(rounds=rounds, results_dir=str(out_dir), seconds=time.monotonic() - started)
            if len(rounds) >= expected or code is not None:
                break
            time.sleep(_POLL_SECONDS)
    finally:
        process_group.stop(pid, label, grace=stop_grace)
    if len(rounds) < expected and code != 0:
        tail = process_group.tail(log_path, 25)
        last = next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "")
        raise BenchmarkError(f"genai-bench exited with code {code}: {last}\nlast lines of {log_path}:\n{tail}")
    if not rounds:
        raise BenchmarkError(f"genai-bench finished but wrote no result files into {out_dir}")
    return BenchmarkResult(rounds=rounds, results_dir=str(out_dir), seconds=time.monotonic() - started)
