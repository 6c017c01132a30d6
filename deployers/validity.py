"""Configurations that cannot run are turned away before any engine starts, so no GPU time is spent on them."""

from __future__ import annotations

from deployers.engines import engine_adapter
from tuning.evaluation.memory_fit import misfit, model_shape
from tuning.runtime.gpu_allocator import GpuAllocator
from tuning.search.space import SearchSpaceError, grid
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
    """Why ``params`` cannot run (too many GPUs, flags the engine refuses, more memory than a GPU has), or None if
    it can."""
    engine = engine_adapter(spec.engine)
    needed = engine.gpu_count(params)
    if available is not None and needed > available:
        return (
            f"needs {needed} GPUs (tensor x pipeline x data parallel) but one machine offers {available} "
            "(hardware.gpus_per_node)"
        )
    if (refused := engine.refusal(params)) is not None:
        return refused
    memory = spec.hardware.gpu_memory_gib
    if memory is not None and (model := model_shape(spec.model.path)) is not None:
        return misfit(model, engine.serving_shape(params), memory)
    return None


def memory_misfits(spec: TuningSpec) -> tuple[int, list[tuple[Configuration, str]]] | None:
    """How many configurations the grid has, and those that cannot fit in ``hardware.gpu_memory_gib`` with why;
    None when not judged: no GPU memory given, no readable ``config.json`` in ``model.path``, or a space that
    cannot be listed (a continuous range)."""
    memory = spec.hardware.gpu_memory_gib
    if memory is None or (model := model_shape(spec.model.path)) is None:
        return None
    try:
        configurations = grid(spec)
    except SearchSpaceError:
        return None
    engine = engine_adapter(spec.engine)
    judged = [(params, misfit(model, engine.serving_shape(params), memory)) for params in configurations]
    return len(configurations), [(params, why) for params, why in judged if why is not None]
