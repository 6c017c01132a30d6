"""Engine adapters, by the name a spec uses. Adding an engine means adding a module and a line here."""

from deployers.engines._base import EngineAdapter, flag_args
from deployers.engines._vllm import VllmAdapter
from tuning.spec import EngineSpec

ENGINES: dict[str, type[EngineAdapter]] = {VllmAdapter.name: VllmAdapter}


def engine_adapter(spec: EngineSpec) -> EngineAdapter:
    return ENGINES[spec.name.value](spec)


__all__ = ["ENGINES", "EngineAdapter", "VllmAdapter", "engine_adapter", "flag_args"]
