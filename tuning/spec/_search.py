"""What to vary and how: the search space's dimensions, the strategy, the hardware, the confirmations."""

from __future__ import annotations

import importlib.util
import math
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import Field, GetJsonSchemaHandler, PositiveFloat, PositiveInt, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from tuning.spec._base import RUN_NAME, ParamValue, StrictModel


class Dimension(StrictModel):
    """One parameter of the search space: a list of values, or a range."""

    values: list[ParamValue] | None = Field(
        default=None,
        min_length=1,
        description="The values to try. A list of numbers is ordered: `tpe` and `gp` learn that 8 lies between "
        "4 and 16.",
    )
    low: int | float | None = Field(default=None, description="Lower end of a range (included).")
    high: int | float | None = Field(default=None, description="Upper end of a range (included).")
    step: PositiveInt | PositiveFloat | None = Field(default=None, description="Spacing of a range.")
    log: bool = Field(default=False, description="Sample a range on a log scale.")

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # The list shorthand is accepted on input, so forms built from the schema (Prefect's) must accept it too.
        described = handler.resolve_ref_schema(handler(core_schema))
        shorthand = {"type": "array", "minItems": 1, "title": "Values", "description": "The values to try."}
        return {"anyOf": [shorthand, described], "title": "Dimension", "description": described.get("description")}

    @model_validator(mode="before")
    @classmethod
    def _list_is_values(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"values": data}
        if not isinstance(data, dict):
            raise ValueError(f"expected a list of values or a range {{low, high, step, log}}, not {data!r}")
        return data

    @field_validator("values")
    @classmethod
    def _distinct(cls, values: list[Any] | None) -> list[Any] | None:
        seen: list[tuple[type, Any]] = []
        for value in values or []:
            if (type(value), value) in seen:
                raise ValueError(f"value {value!r} is listed twice")
            seen.append((type(value), value))
        return values

    @model_validator(mode="after")
    def _range_is_sound(self) -> Self:
        is_range = self.low is not None or self.high is not None
        if self.values is not None and (is_range or self.step is not None or self.log):
            raise ValueError("give either values or a range (low, high, step, log), not both")
        if self.values is None:
            if self.low is None or self.high is None:
                raise ValueError("a range needs both low and high")
            if self.low > self.high:
                raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
            if self.log and self.low <= 0:
                raise ValueError(f"a log range needs low > 0, got {self.low}")
            if self.log and self.step is not None:
                raise ValueError("a log range cannot also have a step")
        return self

    @property
    def is_int_range(self) -> bool:
        return self.values is None and all(
            isinstance(v, int) for v in (self.low, self.high, self.step) if v is not None
        )

    @property
    def grid_size(self) -> int | None:
        """How many values a grid walks here; None for a range it cannot walk (a log one, or floats without a
        step)."""
        if self.values is not None:
            return len(self.values)
        assert self.low is not None and self.high is not None
        if self.log:
            return None
        if self.is_int_range:
            return len(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            return None
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1


class StrategyName(StrEnum):
    grid = "grid"
    random = "random"
    tpe = "tpe"
    gp = "gp"
    nsga2 = "nsga2"


DEFAULT_SAMPLED_TRIALS = 20
# Asks in a row that all proposed a configuration already measured: the sampler has settled on what it knows,
# so the next configuration is drawn at random from those not measured yet.
SETTLED_AFTER_REPEATS = 10


def gp_installed() -> bool:
    """Whether the `gp` strategy's extra (torch and scipy) is installed here; it is looked up, not imported."""
    return all(importlib.util.find_spec(module) is not None for module in ("torch", "scipy"))


class StrategySpec(StrictModel):
    """How configurations are chosen: every point of a grid, or an Optuna sampler that learns from results."""

    name: StrategyName = Field(
        default=StrategyName.grid,
        description="Unset, the spec chooses: `grid` when the budget (`max_trials`, else "
        f"{DEFAULT_SAMPLED_TRIALS}) covers every configuration and no warm start is asked, else `gp` (`tpe` where "
        "the `gp` extra is not installed), the strategy that did best on the search benchmark's suite "
        "(docs/search-efficiency.md). `grid` tries every configuration in order; `random` samples uniformly; "
        "`tpe` is Optuna's multivariate TPE, which learns from each result and steers away from configurations "
        "that broke a hard SLO; `gp` is Optuna's Gaussian-process sampler, also constrained by the hard SLOs; "
        "when the space is a finite list of configurations, it scores every one not yet tried and runs the best "
        "(among those likely to meet the hard SLOs, while there are any), so it never repeats one. With several "
        "`objectives`, `tpe` and `gp` search for the Pareto front, and so does `nsga2` (Optuna's NSGA-II, "
        "for several objectives only).",
    )
    max_trials: PositiveInt | None = Field(
        default=None,
        description=f"Stop after this many configurations have run. Defaults to the grid's size for `grid`, and "
        f"to {DEFAULT_SAMPLED_TRIALS} for samplers. A sampler's proposal of a configuration already measured reuses "
        f"that result and does not count; after {SETTLED_AFTER_REPEATS} such proposals in a row, the next "
        "configuration is one not measured yet, drawn at random. A search ends early only when none is left.",
    )
    # Optuna's samplers take a numpy seed: 0 to 2**32 - 1; any other fails the run when its sampler is made.
    seed: int | None = Field(
        default=None, ge=0, le=2**32 - 1, description="Seed of the sampler, for a reproducible search."
    )
    parallelism: PositiveInt = Field(
        default=1,
        description="Trials in flight at once: the study hands out this many configurations and is told each "
        "result as its trial ends. Trials also wait for free slots of their GPU class, so a pool never runs "
        "more than it has GPUs.",
    )
    pruner: Literal["none", "median", "hyperband"] = Field(
        default="none",
        description="Stop clearly poor trials early: after each concurrency level, Optuna's median or "
        "Hyperband pruner compares the trial's score so far with earlier trials'. (A trial that breaks a hard "
        "SLO stops at that level whatever this says.)",
    )

    def budget(self, grid_size: int) -> int:
        if self.name is StrategyName.grid:
            return min(grid_size, self.max_trials or grid_size)
        return self.max_trials or DEFAULT_SAMPLED_TRIALS


class HardwareSpec(StrictModel):
    """Where trials run, and what one trial may use."""

    pool: str | None = Field(
        default=None,
        description="Prefect work pool whose `trial` deployment (`trial/<pool>`) runs each trial, on one of the "
        "pool's workers. Unset: trials run inside the `tune` flow's own process.",
        examples=["cpu", "gpu-h100"],
    )
    gpus_per_node: PositiveInt | None = Field(
        default=None,
        description="GPUs one machine offers a trial. A configuration needing more (tensor x data parallel) is "
        "rejected before any engine starts. Unset: the GPUs this machine has when trials run in-process "
        "(1 slot without GPUs), and no limit for a pool.",
    )
    gpu_memory_gib: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Memory of one GPU, in GiB (80 for an H100 80GB). With a local model folder, each "
        "configuration's need is worked out from its `config.json` before any engine starts: its share of the "
        "weights, the KV cache of one longest sequence and its largest batch's activations, per tensor/pipeline "
        "size and dtype (a lower bound). One that cannot fit in the engine's share of this memory is rejected "
        "without an engine, and the search learns it as infeasible. Unset: not judged.",
        examples=[80],
    )
    gpu_hour_price: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="What one GPU costs per hour, in any currency: the objective `cost_per_million_output_tokens` "
        "is the trial's GPUs x this price for the time one million output tokens take. A machine without GPUs "
        "counts as one.",
        examples=[2.5],
    )

    @field_validator("pool")
    @classmethod
    def _pool_name(cls, pool: str | None) -> str | None:
        if pool is not None and not RUN_NAME.match(pool):
            raise ValueError(f"{pool!r} is not a work pool name: use lowercase letters, digits and dashes")
        return pool


class WarmStartMode(StrEnum):
    off = "off"
    known = "known"
    candidates = "candidates"


class WarmStartSpec(StrictModel):
    """Start from what earlier runs measured on the same model, engine version, hardware and workload."""

    mode: WarmStartMode = Field(
        default=WarmStartMode.off,
        description="`off` starts from nothing. `known` tells the sampler the earlier runs' measured configurations "
        "as known results before it proposes anything (they are not measured again unless it proposes them, and "
        "do not count against the budget). `candidates` runs the earlier runs' best configurations first, as "
        "this run's first trials. An earlier run counts when it completed and has the same `model`, `engine` "
        "name and `args`, engine version, hardware class (the work pool, else the GPUs, else the CPU model), "
        "`benchmark`, `objectives` and `slos`; configurations outside this run's `search_space` are left out.",
    )
    runs: list[str] = Field(
        default_factory=list,
        description="Names of the earlier runs to learn from; empty: every matching completed run. A named run "
        "that does not match is left out, and the run's log says why.",
        examples=[["quickstart", "quickstart-nightly"]],
    )
    top: PositiveInt = Field(
        default=3, description="With `candidates`: how many of the earlier best configurations to run first."
    )


class ConfirmationSpec(StrictModel):
    """Benchmark numbers are noisy: after the search, the best configurations are measured again."""

    top: int = Field(
        default=3, ge=0, description="How many of the best feasible configurations to benchmark again (0: none)."
    )
    repeats: PositiveInt = Field(default=1, description="How many more times each of them is benchmarked.")


# Engine-neutral dimensions: written once in a spec, mapped by each engine adapter to its own flags.
NEUTRAL_DIMENSIONS: dict[str, str] = {
    "quantization.weights": "the weights' (GEMM) quantization method, such as fp8, awq or gptq; `none` leaves it to "
    "the model's own",
    "quantization.kv-cache": "the KV cache's data type, such as auto, fp8_e5m2 or fp8_e4m3",
    "quantization.attention": "the attention computation's data type",
    "quantization.moe": "the MoE experts' quantization",
    "parallelism.tp": "tensor-parallel size",
    "parallelism.pp": "pipeline-parallel size",
    "parallelism.dp": "data-parallel size (replicas)",
    "parallelism.ep": "expert-parallel size",
}
NEUTRAL_GROUPS = ("quantization", "parallelism")


def neutral_dimension_problem(name: str, dimension: Dimension) -> str | None:
    """What is wrong with an engine-neutral dimension (``quantization.*``, ``parallelism.*``), or None."""
    if name.split(".", 1)[0] not in NEUTRAL_GROUPS:
        return None
    if name not in NEUTRAL_DIMENSIONS:
        group = name.split(".", 1)[0]
        known = ", ".join(n for n in NEUTRAL_DIMENSIONS if n.startswith(f"{group}."))
        return f"{name}: not an engine-neutral dimension; {group} has {known}"
    if name.startswith("parallelism."):
        given = dimension.values if dimension.values is not None else [dimension.low, dimension.high]
        bad = [v for v in given if isinstance(v, bool) or not isinstance(v, int) or v < 1]
        if bad or (dimension.values is None and not dimension.is_int_range):
            shown = bad[0] if bad else given
            return f"{name}: a parallel size is a whole number of 1 or more (given: {shown!r})"
    elif dimension.values is None or not all(isinstance(v, str) for v in dimension.values):
        return f"{name}: list the data types or methods to try, as text, such as [auto, fp8]"
    return None
