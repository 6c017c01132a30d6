"""genai-bench's own report of a trial, an Excel workbook and plots per traffic scenario, made off the
critical path: started once the trial's engine is gone, while the run goes on to its next trial.

    python -m benchmarks.report FOLDER...   # what the background process runs: genai-bench excel, then plot

The run waits for its reports before it ends (:func:`wait_for_reports`), and an exit hook does the same, so no
report process outlives the process that started it. Each carries the trial's label, so a sweep finds it too.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.genai_bench import genai_bench_executable
from tuning.runtime import process_group

_POLL_SECONDS = 0.5
_EXIT_WAIT_SECONDS = 120.0
_pending: dict[int, str] = {}


def start_report(results_dir: Path, label: str) -> int | None:
    """Start making the report of every genai-bench experiment under ``results_dir``; its pid, or None."""
    folders = sorted(p.parent for p in results_dir.glob("*/experiment_metadata.json"))
    if not folders:
        return None
    argv = [sys.executable, "-m", "benchmarks.report", *map(str, folders)]
    pid = process_group.start(argv, results_dir / "report.log", os.environ, label=label, cwd=results_dir)
    _pending[pid] = label
    return pid


def wait_for_reports(timeout: float) -> list[str]:
    """Wait up to ``timeout`` seconds for the reports this process started; stop the rest. Their labels."""
    deadline = time.monotonic() + timeout
    unfinished = []
    for pid, label in list(_pending.items()):
        while process_group.exit_code(pid) is None and process_group.is_running(pid):
            if time.monotonic() >= deadline:
                unfinished.append(label)
                break
            time.sleep(_POLL_SECONDS)
        process_group.stop(pid, label, grace=5.0)
        del _pending[pid]
    return unfinished


atexit.register(wait_for_reports, _EXIT_WAIT_SECONDS)


def main(folders: list[str]) -> int:
    # It runs while the next trial starts its engine and benchmarks it: on a machine with few cores it must not
    # take their CPU, or the next trial measures the report as much as its configuration.
    os.nice(19)
    genai_bench = genai_bench_executable()
    failed = 0
    for folder in folders:
        name = f"{Path(folder).name}_summary"
        excel = [genai_bench, "excel", "--experiment-folder", folder, "--excel-name", name]
        plot = [genai_bench, "plot", "--experiments-folder", folder, "--group-key", "traffic_scenario"]
        for argv in (excel, plot):
            failed += subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
