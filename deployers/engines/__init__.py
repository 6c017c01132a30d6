"""Engine adapters, by the name a spec uses. Adding an engine means adding a module and a line here."""

from deployers.engines._base import EngineAdapter, flag_args
from deployers.engines._flags import (
    EngineFlags,
    Flag,
    FlagsUnavailable,
    check_engine_flags,
    default_flags_python,
    engine_flags,
    flag_problems,
)
from deployers.engines._sglang import SglangAdapter
from deployers.engines._vllm import VllmAdapter
from tuning.spec import EngineSpec

ENGINES: dict[str, type[EngineAdapter]] = {VllmAdapter.name: VllmAdapter, SglangAdapter.name: SglangAdapter}


def engine_adapter(spec: EngineSpec) -> EngineAdapter:
    return ENGINES[spec.name.value](spec)


__all__ = [
    "ENGINES",
    "EngineAdapter",
    "EngineFlags",
    "Flag",
    "FlagsUnavailable",
    "SglangAdapter",
    "VllmAdapter",
    "check_engine_flags",
    "default_flags_python",
    "engine_adapter",
    "engine_flags",
    "flag_args",
    "flag_problems",
]
