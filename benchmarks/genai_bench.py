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
from tuning.evaluation.goodput import RequestLimits
from tuning.evaluation.metrics import BenchmarkResult, RoundMetrics
from tuning.runtime import process_group
from tuning.runtime.network import free_port, no_proxy_env
from tuning.spec import BATCHED_TASKS, BenchmarkSpec, ModelSpec, read_prompts
from tuning.spec._base import SECRET_NAME

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
    endpoint: str,
    model: ModelSpec,
    api_backend: str,
    spec: BenchmarkSpec,
    out_dir: Path,
    levels: list[int] | None = None,
) -> list[str]:
    """genai-bench's argv over ``levels`` (the spec's concurrency levels when None)."""
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
    # genai-bench loads embeddings and rerank with one request in flight and a growing batch per request.
    level_option = "--batch-size" if spec.task in BATCHED_TASKS else "--num-concurrency"
    for level in spec.concurrency if levels is None else levels:
        argv += [level_option, str(level)]
    if spec.extra_request_params:
        argv += ["--additional-request-params", json.dumps(spec.extra_request_params)]
    return argv + _traffic_options(spec, out_dir.parent / PROMPTS_FILE)


PROMPTS_FILE = "prompts.json"
"""A local dataset's prompts as genai-bench reads them, written beside the trial's genai-bench runs."""


def write_prompts(spec: BenchmarkSpec, folder: Path) -> None:
    """Write a local dataset's prompts as the JSON list genai-bench reads, once per trial folder: every genai-bench
    run of the trial (each scenario, each bisection step) reads that one file."""
    target = folder / PROMPTS_FILE
    if spec.dataset is not None and spec.dataset.local_file is not None and not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(read_prompts(spec.dataset)))


def _traffic_options(spec: BenchmarkSpec, prompts: Path) -> list[str]:
    """The user's own traffic: prompts, shared prefixes, warm-up and cool-down, load workers."""
    options: dict[str, object | None] = {
        "--prefix-len": spec.prefix_len,
        "--prefix-ratio": spec.prefix_ratio,
        "--warmup-ratio": spec.warmup_ratio,
        "--cooldown-ratio": spec.cooldown_ratio,
        "--num-workers": spec.workers or None,
        # Its workers meet their master on a port, 5557 unless told: two trials at once must not share it.
        "--master-port": free_port() if spec.workers else None,
    }
    if spec.dataset is not None and spec.dataset.local_file is not None:
        options["--dataset-path"] = str(prompts)
    elif spec.dataset is not None:
        options |= {
            "--dataset-path": spec.dataset.path,
            "--dataset-prompt-column": spec.dataset.prompt_column,
            "--dataset-config": spec.dataset.config,
        }
    return [item for name, value in options.items() if value is not None for item in (name, str(value))]


def genai_bench_env(model: ModelSpec, spec: BenchmarkSpec, host: str) -> dict[str, str]:
    """genai-bench's environment: servetune's, less anything that looks like a secret, with the Hub token named
    by ``spec.hf_token_env`` passed as ``HF_TOKEN`` (its value never leaves the environment).

    genai-bench works offline only when everything it loads is local: a tokenizer given as a Hub id, or a Hub
    dataset, is fetched (or read from the Hub cache, when the Hub is out of reach)."""
    env = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}
    # A dataset config may name a Hub dataset; only a local prompt file is known to need nothing from the Hub.
    dataset_local = spec.dataset is None or spec.dataset.local_file is not None
    local = Path(model.tokenizer_path).is_dir() and dataset_local
    if local:
        env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    elif spec.hf_token_env and (token := os.environ.get(spec.hf_token_env)):
        env["HF_TOKEN"] = token
    return no_proxy_env(env, [host])


def landed_rounds(
    out_dir: Path, seen: set[str], finished: bool, limits: RequestLimits | None = None
) -> list[RoundMetrics]:
    """Rounds genai-bench has written since the last look, oldest first.

    A file still being written is not valid JSON yet: it is read on a later look, unless genai-bench has ended.
    """
    fresh = [p for p in out_dir.glob("*.json") if p.name not in seen and is_round_file(p)]
    rounds = []
    for path in sorted(fresh, key=lambda p: (p.stat().st_mtime, p.name)):
        try:
            rounds.append(parse_round(path, limits))
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
    levels: list[int] | None = None,
    limits: RequestLimits | None = None,
) -> BenchmarkResult:
    """Run one genai-bench over the spec's scenarios and ``levels`` (the spec's when None), reading each round as
    it lands; its per-request metrics are judged against ``limits``.

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
    env = genai_bench_env(model, spec, urlparse(endpoint).hostname or "127.0.0.1")
    write_prompts(spec, out_dir.parent)
    argv = genai_bench_command(endpoint, model, api_backend, spec, out_dir, levels)
    expected = len(spec.traffic_scenarios) * len(spec.concurrency if levels is None else levels)
    rounds: list[RoundMetrics] = []
    seen: set[str] = set()
    started = time.monotonic()
    pid = process_group.start(argv, log_path, env, label=label, cwd=out_dir.parent)
    try:
        while True:
            code = process_group.exit_code(pid)
            for round_ in landed_rounds(out_dir, seen, finished=code is not None, limits=limits):
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
