"""Configurations that cannot run are turned away before any engine starts, so no GPU time is spent on them."""

from __future__ import annotations

from deployers.engines import engine_adapter
from tuning.runtime.gpu_allocator import GpuAllocator
from tuning.spec import Configuration, TuningSpec


def gpus_available(spec: TuningSpec) -> int | None:
    """GPUs one trial may use: the spec's ``hardware.gpus_per_node``, else this machine's when trials run here.

    A machine without GPUs runs one engine per CPU slot, so it offers 1. None: unknown (a pool's machines), not
    judged here; the trial's own GPU allocation on the worker is the check then.
    """
    if spec.hardware.gpus_per_node is not None:
        return spec.hardware.gpus_per_node
    if spec.hardware.pool is not None:
        return None
    return GpuAllocator().gpu_total() or 1


def rejection(spec: TuningSpec, params: Configuration, available: int | None) -> str | None:
    """Why ``params`` cannot run (too many GPUs, flags the engine refuses), or None if it can."""
    engine = engine_adapter(spec.engine)
    needed = engine.gpu_count(params)
    if available is not None and needed > available:
        return (
            f"needs {needed} GPUs (tensor x pipeline x data parallel) but one machine offers {available} "
            "(hardware.gpus_per_node)"
        )
    return engine.refusal(params)
