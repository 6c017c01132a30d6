"""How an engine's flags say what it holds on each GPU (``tuning.evaluation.memory_fit.ServingShape``)."""

from __future__ import annotations

from dataclasses import dataclass

from tuning.evaluation.memory_fit import DTYPE_BYTES, ServingShape
from tuning.spec import Configuration


@dataclass(frozen=True)
class ShapeFlags:
    """This engine's spelling of the flags that decide its memory, and its default share of a GPU's memory."""

    tensor: tuple[str, ...]  # every spelling the engine accepts
    pipeline: tuple[str, ...]
    data: tuple[str, ...]
    max_model_len: str
    batched_tokens: str
    memory_fraction: str
    default_memory_fraction: float
    expert_size: str | None = None  # a flag giving the expert-parallel size
    expert_switch: str | None = None  # a switch making the tensor x data ranks the expert-parallel ones
    dtype: str = "dtype"
    quantization: str = "quantization"
    kv_dtype: str = "kv-cache-dtype"


def _bytes(flags: Configuration, name: str) -> float | None:
    value = flags.get(name)
    return DTYPE_BYTES.get(str(value)) if value is not None else None


def _int(flags: Configuration, names: tuple[str, ...], default: int | None = 1) -> int | None:
    value = next((flags[name] for name in names if flags.get(name) is not None), None)
    return default if value is None else int(value)


def serving_shape(flags: Configuration, names: ShapeFlags) -> ServingShape:
    """The serving shape of an engine started with ``flags`` (fixed args and the trial's, in the engine's names)."""
    tensor = _int(flags, names.tensor) or 1
    # None: the experts follow the tensor ranks.
    expert_split = _int(flags, (names.expert_size,), None) if names.expert_size is not None else None
    if expert_split is None and names.expert_switch is not None and flags.get(names.expert_switch) is True:
        expert_split = tensor * (_int(flags, names.data) or 1)
    fraction = flags.get(names.memory_fraction)
    return ServingShape(
        tensor=tensor,
        pipeline=_int(flags, names.pipeline) or 1,
        expert_split=expert_split,
        weight_bytes=_bytes(flags, names.quantization),
        kv_bytes=_bytes(flags, names.kv_dtype),
        activation_bytes=_bytes(flags, names.dtype),
        max_model_len=_int(flags, (names.max_model_len,), None),
        batched_tokens=_int(flags, (names.batched_tokens,), None),
        memory_fraction=float(fraction) if fraction is not None else names.default_memory_fraction,
    )
