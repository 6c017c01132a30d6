"""The tuning spec itself, with its timeouts and regression rule."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, PositiveFloat, PositiveInt, field_validator, model_validator

from tuning.spec._base import RUN_NAME, StrictModel, canonical_flags
from tuning.spec._benchmark import BATCHED_TASKS, BenchmarkSpec, LoadMode
from tuning.spec._deployer import DeployerSpec, LocalDeployerSpec
from tuning.spec._engine import EngineSpec, ModelSpec
from tuning.spec._objective import (
    CAPACITY_METRICS,
    GENERATION_METRICS,
    OBJECTIVE_PRESETS,
    PER_REQUEST_METRICS,
    ObjectiveMetric,
    ObjectiveSpec,
    PickRule,
    SLOMetric,
    SLOSpec,
)
from tuning.spec._search import (
    DEFAULT_SAMPLED_TRIALS,
    ConfirmationSpec,
    Dimension,
    HardwareSpec,
    StrategyName,
    StrategySpec,
    WarmStartMode,
    WarmStartSpec,
    gp_installed,
    neutral_dimension_problem,
)
from tuning.spec.search_presets import MERGE_RULE, PRESET_KEY, merge_presets


class TimeoutSpec(StrictModel):
    """Seconds each phase may take; past them the work is stopped and the trial recorded as timed out."""

    deploy: PositiveFloat = Field(default=120.0, description="Starting the engine.")
    ready: PositiveFloat = Field(default=600.0, description="From start until it answers a completion.")
    benchmark: PositiveFloat = Field(default=1800.0, description="The whole genai-bench run.")
    trial: PositiveFloat = Field(default=3600.0, description="One trial from deploy to cleanup.")
    pool_pickup: PositiveFloat = Field(
        default=600.0,
        description="With `hardware.pool`: how long a trial's flow run may wait for a worker of the pool to pick it "
        "up (leave Scheduled or Pending). Past it the flow run is cancelled and the trial recorded failed, naming "
        "the pool; the time spent waiting for GPU slots does not count.",
    )


class RegressionBaseline(StrEnum):
    best = "best"
    last = "last"
    median = "median"


class RegressionSpec(StrictModel):
    """How the `regression` flow judges a new measurement (a recheck) of the best configuration."""

    threshold: float = Field(
        default=0.05,
        ge=0,
        allow_inf_nan=False,
        description="Largest acceptable relative change for the worse against the baseline: 0.05 flags a "
        "throughput more than 5% below it, or a latency more than 5% above it. A recheck that fails or breaks a "
        "hard SLO is a regression whatever this says.",
    )
    baseline: RegressionBaseline = Field(
        default=RegressionBaseline.best,
        description="What a recheck is compared with. `best`: the score the tuning run chose its best "
        "configuration on (the mean of that trial and its confirmations). `last`: the latest recheck that met "
        "every hard SLO. `median`: the median of the latest `window` such rechecks. Only rechecks since the "
        "latest completed tuning run count; until there is one, `last` and `median` use `best`.",
    )
    window: PositiveInt = Field(default=5, description="How many of the latest rechecks `median` takes.")


def _objective_preset(value: Any) -> Any:
    if isinstance(value, str):
        if value not in OBJECTIVE_PRESETS:
            raise ValueError(
                f"{value!r} is not an objectives preset; expected a list of objectives or one of: "
                + ", ".join(OBJECTIVE_PRESETS)
            )
        return OBJECTIVE_PRESETS[value]
    return value


def _space_schema(schema: dict[str, Any]) -> None:
    # `preset` and the nulls that remove a preset's entry are read before the model sees the space; forms built
    # from the schema (Prefect's run form) must accept them as the spec does.
    schema["properties"] = {
        PRESET_KEY: {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
            "title": "Preset",
            "description": "Preset name(s), merged into the space (`servetune presets`).",
        }
    }
    schema["additionalProperties"] = {"anyOf": [schema["additionalProperties"], {"type": "null"}]}


class TuningSpec(StrictModel):
    """A tuning run: which engine and model, what to vary, what load, and what counts as best."""

    name: str = Field(
        description="Run name: lowercase letters, digits and dashes. Names the run in the database, "
        "the Prefect UI and the artifacts.",
        examples=["quickstart"],
    )
    description: str = Field(default="", description="Free text shown with the run.")
    model: ModelSpec
    engine: EngineSpec = Field(default_factory=EngineSpec)
    deployer: DeployerSpec = Field(default_factory=LocalDeployerSpec, description="Where the engine runs.")
    search_space: dict[str, Dimension] = Field(
        default_factory=dict,
        description="Engine flags to vary (without dashes), each a list of values or a range. Engine-neutral "
        "dimensions, `quantization.weights`, `quantization.kv-cache`, `quantization.attention`, `quantization.moe` "
        "and `parallelism.tp`, `.pp`, `.dp`, `.ep`, are written the same for every engine and mapped to its own "
        "flags (docs/search-spaces.md). " + MERGE_RULE,
        examples=[
            {"max-num-seqs": [4, 16], "max-num-batched-tokens": {"low": 512, "high": 2048, "step": 512}},
            {PRESET_KEY: "vllm-throughput", "max-num-seqs": [8, 16], "block-size": None},
        ],
        json_schema_extra=_space_schema,
    )
    search_space_presets: list[str] = Field(
        default_factory=list,
        description="The presets `search_space.preset` named, as name@version, recorded by servetune when it "
        "merges them so the run shows where its space came from. Not written by hand.",
        examples=[["vllm-throughput@1"]],
    )
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    hardware: HardwareSpec = Field(default_factory=HardwareSpec)
    confirmation: ConfirmationSpec = Field(default_factory=ConfirmationSpec)
    measure_defaults: bool = Field(
        default=True,
        description="Measure the engine's defaults first, as trial 0: `engine.args` alone, none of the searched "
        "flags. It is measured as many times as the confirmed winner (`confirmation.repeats` more), and the "
        "result states how much better than the defaults the winner is, with both spreads and Welch's interval "
        "of the difference, or that the two cannot be told apart. It does not count against the budget. `false` "
        "skips it.",
    )
    warm_start: WarmStartSpec = Field(default_factory=WarmStartSpec)
    benchmark: BenchmarkSpec = Field(default_factory=BenchmarkSpec)
    objectives: Annotated[list[ObjectiveSpec], BeforeValidator(_objective_preset)] = Field(
        default_factory=lambda: [ObjectiveSpec()],
        description="What makes one configuration better than another: one objective, or two or more to trade "
        "off, whose Pareto front the search looks for and of which `pick` chooses one point. A preset name "
        "stands for a list: `user-vs-gpu` is output_throughput_per_user against output_throughput_per_gpu, the "
        "axes of vLLM's `bench sweep` Pareto plot.",
        examples=[["output_throughput_per_gpu", {"metric": "ttft", "statistic": "p90"}], "user-vs-gpu"],
    )
    # The single-objective form, `objective: X`, is `objectives: [X]`: it is read here (so the form, the docs and
    # an error's location name `objective`), moved into `objectives`, and never stored.
    objective_shorthand: ObjectiveSpec | None = Field(
        default=None,
        alias="objective",
        exclude=True,
        description="One objective: `objective: X` is `objectives: [X]`. With several `objectives` it may only "
        "repeat the one `pick.best` names.",
    )
    pick: PickRule = Field(default_factory=PickRule)
    slos: list[SLOSpec] = Field(default_factory=list, description="Service-level objectives.")
    timeouts: TimeoutSpec = Field(default_factory=TimeoutSpec)
    regression: RegressionSpec = Field(default_factory=RegressionSpec)

    @model_validator(mode="before")
    @classmethod
    def _merged_presets(cls, data: Any) -> Any:
        return merge_presets(data) if isinstance(data, dict) else data

    @field_validator("name")
    @classmethod
    def _run_name(cls, name: str) -> str:
        if not RUN_NAME.match(name):
            raise ValueError(f"{name!r} is not a run name: use 1-63 lowercase letters, digits and dashes")
        return name

    @field_validator("search_space")
    @classmethod
    def _space_flag_names(cls, space: dict[str, Dimension]) -> dict[str, Dimension]:
        canonical = canonical_flags(space)
        for name, dimension in canonical.items():
            if (problem := neutral_dimension_problem(name, dimension)) is not None:
                raise ValueError(problem)
        return canonical

    @model_validator(mode="after")
    def _default_strategy(self) -> Self:
        """A spec that names no strategy walks the grid when its budget covers every configuration, and otherwise
        samples with the strategy that did best on the search benchmark's suite (docs/search-efficiency.md)."""
        if "name" in self.strategy.model_fields_set:
            return self
        sizes = [dimension.grid_size for dimension in self.search_space.values()]
        size = math.prod(s for s in sizes if s is not None) if None not in sizes else None
        budget = self.strategy.max_trials or DEFAULT_SAMPLED_TRIALS
        if size is not None and size <= budget and self.warm_start.mode is WarmStartMode.off:
            return self
        chosen = StrategyName.gp if gp_installed() else StrategyName.tpe
        # The spec is frozen; its strategy is settled here, once, as it is being made.
        object.__setattr__(self, "strategy", self.strategy.model_copy(update={"name": chosen}))
        self.__pydantic_fields_set__.add("strategy")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        both = sorted(set(self.search_space) & set(self.engine.args))
        if both:
            raise ValueError(f"{both} set both in engine.args and in search_space; keep each in one place")
        if self.warm_start.mode is not WarmStartMode.off and self.strategy.name is StrategyName.grid:
            raise ValueError(
                f"warm_start.mode: {self.warm_start.mode.value} needs a sampling strategy (random, tpe, gp or nsga2); "
                "strategy grid measures every configuration anyway, so set warm_start.mode: off or change strategy.name"
            )
        phases = self.timeouts.deploy + self.timeouts.ready
        if self.timeouts.trial < phases:
            raise ValueError(f"timeouts.trial ({self.timeouts.trial:g}s) is shorter than deploy + ready ({phases:g}s)")
        return self

    @model_validator(mode="after")
    def _objectives_consistent(self) -> Self:
        shorthand = self.objective_shorthand
        if shorthand is not None:
            object.__setattr__(self, "objective_shorthand", None)
            if "objectives" not in self.model_fields_set or not self.objectives:
                # Stored specs of earlier releases have `objectives: []` beside the single `objective`.
                object.__setattr__(self, "objectives", [shorthand])
        if not self.objectives:
            object.__setattr__(self, "objectives", [ObjectiveSpec()])
        names = [o.name for o in self.objectives]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"objectives[{index}] ({name}) repeats objectives[{names.index(name)}]")
        if len(self.objectives) == 1:
            if self.pick != PickRule():
                raise ValueError("pick chooses a point of the Pareto front of several objectives; give objectives")
            if self.strategy.name is StrategyName.nsga2:
                raise ValueError(
                    "strategy.name nsga2 needs two or more objectives (objectives), not one objective; "
                    "use tpe, gp, random or grid for one"
                )
            return self
        named: dict[str, str | None] = {"pick.best": self.pick.best} | {f"pick.limits.{n}": n for n in self.pick.limits}
        for field, given in named.items():
            if given is not None and given not in names:
                raise ValueError(f"{field}: {given!r} is not one of the objectives: {', '.join(names)}")
        if self.strategy.pruner != "none":
            raise ValueError(
                f"strategy.pruner {self.strategy.pruner!r} cannot be used with several objectives: Optuna prunes "
                "single-objective studies only; use pruner 'none' (a trial that breaks a hard SLO still stops early)"
            )
        if shorthand is not None and shorthand != self.objective:
            raise ValueError(
                f"objective ({shorthand.name}) differs from the objective pick.best names ({self.objective.name}); "
                "with objectives, leave objective out"
            )
        return self

    @model_validator(mode="after")
    def _objectives_measurable(self) -> Self:
        metrics = {o.metric for o in self.objectives}
        capacity = self.benchmark.mode is LoadMode.capacity
        if not capacity and (asked := sorted(m.value for m in metrics & CAPACITY_METRICS)):
            raise ValueError(
                f"objective {asked[0]} is found only by benchmark.mode 'capacity' (now {self.benchmark.mode.value!r})"
            )
        if self.benchmark.task in BATCHED_TASKS:
            generated = sorted(m.value for m in metrics & GENERATION_METRICS)
            generated += [f"slos: {s.metric.value}" for s in self.slos if s.metric is SLOMetric.tpot]
            if generated:
                raise ValueError(
                    f"{generated[0]} measures generated tokens, and task {self.benchmark.task.value} generates none; "
                    "use total_throughput, requests_per_second, goodput or e2e_latency (and ttft or e2e_latency SLOs)"
                )
        latency_slos = [s for s in self.slos if s.metric is not SLOMetric.error_rate]
        if not latency_slos and (asked := sorted(m.value for m in metrics & PER_REQUEST_METRICS)):
            raise ValueError(
                f"objective {asked[0]} counts the requests that meet the latency SLOs, and slos has none; add a "
                "ttft, tpot or e2e_latency SLO"
            )
        if ObjectiveMetric.cost_per_million_output_tokens in metrics and self.hardware.gpu_hour_price is None:
            raise ValueError(
                "objective cost_per_million_output_tokens needs hardware.gpu_hour_price, the price of a GPU-hour"
            )
        if capacity and self.strategy.pruner != "none":
            raise ValueError(
                f"strategy.pruner {self.strategy.pruner!r} cannot be used with benchmark.mode 'capacity': a pruner "
                "compares trials at the same step, and capacity runs each trial's own levels; use pruner 'none'"
            )
        if capacity and not any(s.hard for s in self.slos):
            raise ValueError(
                "benchmark.mode 'capacity' looks for the highest load that meets every hard SLO, and slos has no "
                "hard one; add one, such as {metric: ttft, statistic: p90, max: 1.0}"
            )
        return self

    @property
    def objective_index(self) -> int:
        """Where in `objectives` the objective that ranks is: the one `pick.best` names, else the first."""
        return [o.name for o in self.objectives].index(self.pick.best) if self.pick.best else 0

    @property
    def objective(self) -> ObjectiveSpec:
        """The objective that ranks: what every one-number view (score, leaderboard, regression) shows."""
        return self.objectives[self.objective_index]

    @model_validator(mode="after")
    def _regression_reachable(self) -> Self:
        if self.objective.maximize and self.regression.threshold >= 1:
            raise ValueError(
                f"regression.threshold: {self.regression.threshold:g} can never be reached, as {self.objective.label} "
                "cannot fall by 100% or more; use a fraction below 1, such as 0.05 for 5%"
            )
        return self
