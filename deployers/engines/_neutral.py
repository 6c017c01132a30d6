"""Engine-neutral dimensions (``quantization.*``, ``parallelism.*``) turned into one engine's own flags.

Each adapter declares a ``NeutralFlag`` per dimension (``EngineAdapter.neutral_flags``); nothing here knows an
engine. A trial's configuration keeps the neutral names, so results read the same whatever the engine; only the
engine's argv, GPU count and refusal rules see its own flags.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tuning.spec import NEUTRAL_DIMENSIONS, Configuration, Dimension, TuningSpec

if TYPE_CHECKING:
    from deployers.engines._flags import EngineFlags

Value = bool | int | float | str


@dataclass(frozen=True)
class NeutralFlag:
    """How one engine spells one neutral dimension."""

    #: The engine flag it sets; None when the engine has no such setting (then ``missing`` says why).
    flag: str | None
    missing: str = ""
    #: Neutral values that leave the flag out, so the engine uses its own default.
    omitted: tuple[Value, ...] = ()
    #: The flag is a switch: a size above 1 passes it bare (vLLM's expert parallelism).
    switch: bool = False

    def value(self, given: Value) -> Value | None:
        """The engine's value for a neutral one; None: the flag is left out."""
        if given in self.omitted and type(given) in {type(o) for o in self.omitted}:
            return None
        if self.switch:
            return True if int(given) > 1 else None
        return given

    def shown(self, given: Value) -> str:
        """A value as the engine gets it: itself, or what it becomes."""
        engine_value = self.value(given)
        if engine_value is None:
            return f"{given} = left out"
        return f"{given} = bare flag" if engine_value is True and given is not True else str(engine_value)


def is_neutral(name: str) -> bool:
    return name in NEUTRAL_DIMENSIONS


def translate(mapping: dict[str, NeutralFlag], params: Configuration) -> Configuration:
    """``params`` with each neutral dimension replaced by the engine flag it maps to (or left out)."""
    out: Configuration = {}
    for name, given in params.items():
        neutral = mapping.get(name) if is_neutral(name) else None
        if neutral is None or neutral.flag is None:
            out.setdefault(name, given)  # an unmapped one is refused by the flag check before any trial
            continue
        engine_value = neutral.value(given)
        if engine_value is not None:
            out[neutral.flag] = engine_value
    return out


# ---- a spec's neutral dimensions against one installed engine ----


def _dimension_for_check(neutral: NeutralFlag, dimension: Dimension) -> Dimension | None:
    """The dimension as the engine flag's values, for the flag check; None when every value leaves it out."""
    if dimension.values is None:
        if neutral.switch:
            return Dimension(values=[True])
        return dimension
    mapped: list[Value] = []
    for given in dimension.values:
        engine_value = neutral.value(given)
        if engine_value is not None and engine_value not in mapped:
            mapped.append(engine_value)
    return Dimension(values=mapped) if mapped else None


def engine_spec(spec: TuningSpec, engine: str, mapping: dict[str, NeutralFlag]) -> tuple[TuningSpec, list[str]]:
    """The spec with its neutral dimensions as the engine's flags (for the flag check), and the problems that
    stop a mapping: a dimension the engine has no flag for, or one that sets a flag the spec also sets."""
    problems: list[str] = []
    raw = {name.replace("_", "-") for name in (*spec.engine.args, *spec.search_space) if not is_neutral(name)}
    space: dict[str, Dimension] = {}
    for name, dimension in spec.search_space.items():
        if not is_neutral(name):
            space[name] = dimension
            continue
        neutral = mapping.get(name)
        if neutral is None or neutral.flag is None:
            why = neutral.missing if neutral else f"servetune has no mapping of {name} for {engine}"
            problems.append(f"search_space.{name}: {engine} has no flag for {NEUTRAL_DIMENSIONS[name]}: {why}")
            continue
        if neutral.flag in raw:
            problems.append(
                f"search_space.{name}: sets --{neutral.flag}, which the spec also sets by that name; keep one"
            )
            continue
        if (as_flag := _dimension_for_check(neutral, dimension)) is not None:
            space[neutral.flag] = as_flag
    return spec.model_copy(update={"search_space": space}), problems


def renamed(problem: str, mapping: dict[str, NeutralFlag], spec: TuningSpec) -> str:
    """A flag check's line about a mapped flag, in the words of the neutral dimension the spec wrote."""
    for name in spec.search_space:
        neutral = mapping.get(name) if is_neutral(name) else None
        if neutral is not None and neutral.flag is not None:
            pattern = rf"^search_space\.{re.escape(neutral.flag)}(?:\.values\[\d+\]|\.low|\.high|\.step)?: "
            if re.match(pattern, problem):
                return re.sub(pattern, f"search_space.{name} (as --{neutral.flag}): ", problem)
    return problem


def mapped_lines(spec: TuningSpec, mapping: dict[str, NeutralFlag]) -> list[str]:
    """For `servetune validate`: each neutral dimension and the engine flags its values become."""
    lines = []
    for name, dimension in spec.search_space.items():
        neutral = mapping.get(name) if is_neutral(name) else None
        if neutral is None or neutral.flag is None:
            continue
        if dimension.values is None:
            shown = f"{dimension.low} to {dimension.high}"
        else:
            shown = ", ".join(neutral.shown(value) for value in dimension.values)
        lines.append(f"{name} -> --{neutral.flag}: {shown}")
    return lines


# ---- a model that is already quantized ----


def model_quantization(model_path: str) -> str | None:
    """The ``quantization_config.quant_method`` of a local model's config.json (lowercase), or None."""
    config = Path(model_path).expanduser() / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a hub id, or no config: the engine reads it itself
    quantization = data.get("quantization_config") if isinstance(data, dict) else None
    method = quantization.get("quant_method") if isinstance(quantization, dict) else None
    return str(method).lower() if method else None


def quantized_model_problems(
    spec: TuningSpec, mapping: dict[str, NeutralFlag], kernels: dict[str, tuple[str, ...]], engine: str
) -> list[str]:
    """Weights methods a pre-quantized model cannot be served with: only its own method (or one of the engine's
    kernels for it) fits, or leaving the method to the model (`none`)."""
    dimension = spec.search_space.get("quantization.weights")
    neutral = mapping.get("quantization.weights")
    if dimension is None or dimension.values is None or neutral is None:
        return []
    method = model_quantization(spec.model.path)
    if method is None:
        return []
    fitting = [*(str(o) for o in neutral.omitted), *kernels.get(method, (method,))]
    problems = []
    for index, given in enumerate(dimension.values):
        if str(given).lower() not in fitting:
            problems.append(
                f"search_space.quantization.weights.values[{index}]: model.path is already quantized with {method} "
                f"(quantization_config.quant_method in its config.json), so {engine} serves it only as "
                f"{' or '.join(fitting)}, not {given!r}"
            )
    return problems


def check(
    spec: TuningSpec,
    flags: EngineFlags,
    managed: tuple[str, ...],
    mapping: dict[str, NeutralFlag],
    kernels: dict[str, tuple[str, ...]],
) -> list[str]:
    """Every problem of the spec's flags and neutral dimensions against the installed engine, one line each."""
    as_flags, problems = engine_spec(spec, flags.engine, mapping)
    problems += quantized_model_problems(spec, mapping, kernels, flags.engine)
    return problems + [renamed(line, mapping, spec) for line in flags.check(as_flags, managed)]
