"""Small specs that drive the real vLLM CPU engine in tests: short loads, so a trial takes about a minute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuning.spec import TuningSpec


def real_engine_spec(name: str, model: Path, engine_venv: Path, **sections: Any) -> TuningSpec:
    data: dict[str, Any] = {
        "name": name,
        "model": {"path": str(model), "served_name": "tiny"},
        "engine": {
            "venv": str(engine_venv),
            "args": {"dtype": "float32", "enforce-eager": True, "max-model-len": 512},
            "env": {"VLLM_CPU_KVCACHE_SPACE": "1"},
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
        "timeouts": {"deploy": 30, "ready": 240, "benchmark": 300, "trial": 600},
    }
    data.update(sections)
    return TuningSpec.model_validate(data)
