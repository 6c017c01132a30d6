"""Cheap tuning runs for fault tests: servetune's real code path (Prefect, the store, the local deployer's process
groups, the real genai-bench) against the stand-in engine of ``tests/support/openai_engine.py``, so a trial takes
seconds instead of the real engine's minute."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import openai_engine
from tuning.runtime import process_group
from tuning.spec import TuningSpec


def standin_spec(
    name: str, model: Path, folder: Path, seqs: list[int], faults: dict[int, str] | None = None, **sections: Any
) -> TuningSpec:
    """A grid over ``max-num-seqs`` (one trial per value, in order); ``faults`` says what the engine of a value does
    (``crash`` or ``hang``), the others serve."""
    data: dict[str, Any] = {
        "name": name,
        "model": {"path": str(model), "served_name": "tiny"},
        "engine": {
            "python": str(openai_engine.install(folder)),
            "env": {openai_engine.FAULTS_VAR: json.dumps({str(k): v for k, v in (faults or {}).items()})},
        },
        "deployer": {"kind": "local", "stop_grace": 2},
        "search_space": {"max-num-seqs": seqs},
        "benchmark": {"traffic_scenarios": ["D(40,8)"], "concurrency": [1], "max_requests_per_run": 4},
        "confirmation": {"top": 0},
        "measure_defaults": False,  # tests that want trial 0 to be the defaults turn it on
        "timeouts": {"deploy": 30, "ready": 20, "benchmark": 120, "trial": 240},
    }
    data.update(sections)
    return TuningSpec.model_validate(data)


def left_behind(run_id: str) -> dict[int, str]:
    """The run's engines and genai-bench processes still alive, by process group."""
    return process_group.labelled(f"servetune/{run_id}/")


def owned_by(pid: int) -> dict[int, str]:
    """Engines and genai-bench runs started by the servetune process ``pid``, by process group."""
    return {pgid: label for pgid, label in process_group.labelled("servetune/").items() if f"/{pid}/" in f"{label}/"}
