"""The load genai-bench puts on each configuration."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, PositiveInt, field_validator, model_validator

from tuning.spec._base import EnvName, StrictModel
from tuning.spec._dataset import DatasetSpec


class BenchmarkTask(StrEnum):
    text_to_text = "text-to-text"
    text_to_embeddings = "text-to-embeddings"
    text_to_rerank = "text-to-rerank"


# Tasks whose requests generate no tokens: genai-bench varies their batch size (inputs per request) at one request
# in flight, where it varies concurrency for generation.
BATCHED_TASKS = frozenset({BenchmarkTask.text_to_embeddings, BenchmarkTask.text_to_rerank})


class LoadMode(StrEnum):
    """How the load levels of a trial are chosen."""

    levels = "levels"
    capacity = "capacity"


def _scenario_list(value: Any) -> Any:
    # A single string is one scenario: splitting it on commas is what broke D(100,100) in the old system.
    return [value] if isinstance(value, str) else value


# genai-bench's traffic-scenario grammar for text tasks. genai-bench itself cannot be imported here: its
# load generator (locust) monkey-patches threading with gevent on import, which breaks Prefect. The test
# suite checks these patterns against genai-bench's own validator, run in a separate process.
SCENARIO_PATTERNS = {
    "D": r"^D\(\d+,\d+\)$",
    "N": r"^N\(\d+,\d+\)/\(\d+,\d+\)$",
    "U": r"^U\(\d+,\d+\)(?:/\(\d+,\d+\))?$",
    "E": r"^E\(\d+\)$",
    "R": r"^R\(\d+,\d+\)$",
}
# Which scenario kinds each task takes: E(tokens per document) embeds, R(tokens per document, per query) reranks.
TASK_SCENARIOS = {
    BenchmarkTask.text_to_text: "DNU",
    BenchmarkTask.text_to_embeddings: "E",
    BenchmarkTask.text_to_rerank: "R",
}


# genai-bench's "dataset" scenario: each prompt of `benchmark.dataset` as it is, no token shaping.
DATASET_SCENARIO = "dataset"


def _check_scenario(scenario: Any) -> Any:
    if not isinstance(scenario, str):
        return scenario  # pydantic's own str check reports it
    scenario = scenario.strip()
    if scenario == DATASET_SCENARIO:
        return scenario
    pattern = SCENARIO_PATTERNS.get(scenario[:1])
    if pattern is not None and re.match(pattern, scenario) and scenario.startswith("U"):
        for low, high in re.findall(r"\((\d+),(\d+)\)", scenario):
            if int(low) > int(high):
                raise ValueError(f"{scenario!r}: U(min,max) needs min <= max, and {low} > {high}")
    if pattern is None or not re.match(pattern, scenario):
        raise ValueError(
            f"{scenario!r} is not a genai-bench traffic scenario; expected D(in,out), "
            "N(in_mean,in_sd)/(out_mean,out_sd) or U(in_min,in_max)/(out_min,out_max), such as 'D(100,100)' or "
            "'N(480,240)/(300,150)'; 'dataset' for benchmark.dataset's prompts as they are; E(tokens) for "
            "embeddings; R(doc_tokens,query_tokens) for rerank"
        )
    return scenario


def smallest_input(scenario: str) -> int | None:
    """The fewest input tokens a scenario draws, as genai-bench bounds it (a normal one: mean - 3 sd)."""
    numbers = [int(n) for n in re.findall(r"\d+", scenario)]
    match scenario[:1]:
        case "D" | "U":
            return numbers[0]
        case "N":
            return max(0, numbers[0] - 3 * numbers[1])
    return None


# A share of a round's requests, as genai-bench takes it: at least 0, below 1.
RequestShare = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class BenchmarkSpec(StrictModel):
    """The load genai-bench puts on each configuration."""

    task: BenchmarkTask = Field(
        default=BenchmarkTask.text_to_text,
        description="genai-bench task: `text-to-text` generates (chat completions); `text-to-embeddings` and "
        "`text-to-rerank` serve a pooling model (vLLM: `runner: pooling` with `convert: embed` or `classify`). "
        "For those two, genai-bench varies the batch size (inputs per request) with one request in flight, so the "
        "`concurrency` levels are batch sizes.",
    )
    traffic_scenarios: Annotated[
        list[Annotated[str, BeforeValidator(_check_scenario)]],
        BeforeValidator(_scenario_list),
        Field(min_length=1),
    ] = Field(
        default_factory=lambda: ["D(100,100)"],
        description="genai-bench traffic scenarios, one list item each.",
        examples=[["D(100,100)", "N(480,240)/(300,150)"]],
    )
    mode: LoadMode = Field(
        default=LoadMode.levels,
        description="`levels`: every listed concurrency level is measured, and a configuration counts only if "
        "every level meets every hard SLO. `capacity`: finds the highest load at which every hard SLO holds: "
        "the listed levels are an ascending ladder, stopped at the first level that breaks a hard SLO, then "
        "bisected between the last level that held and that one, down to `resolution`. A level that breaks "
        "the SLOs is beyond the configuration's capacity, not a failure; a configuration is infeasible only "
        "when its lowest level breaks them. Objectives are read at each scenario's capacity.",
    )
    concurrency: list[PositiveInt] = Field(
        default_factory=lambda: [1, 4],
        min_length=1,
        description="Concurrency levels, benchmarked in ascending order (batch sizes for the embeddings and rerank "
        "tasks). In `capacity` mode, the ladder: list levels up to well past what any configuration carries, "
        "such as 1, 2, 4, ... 256.",
    )
    resolution: float = Field(
        default=0.25,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="`capacity` mode: bisection stops once the gap between the highest level that held and the "
        "lowest that broke is at most this fraction of the one that held (and never below one request): 0.25 "
        "finds capacity within 25%. Each bisection step is one more genai-bench run.",
    )
    dataset: DatasetSpec | None = Field(
        default=None,
        description="The user's own prompts: a file path (shorthand for `{path: ...}`) or a dataset config. "
        "Unset: genai-bench's built-in text.",
        examples=["./prompts.jsonl", {"path": "./chats.csv", "prompt_column": "prompt"}],
    )
    prefix_len: int | None = Field(
        default=None,
        ge=0,
        description="Tokens at the start of every prompt that all requests share, so prefix caching has "
        "something to reuse. At most the smallest input length of any scenario.",
    )
    prefix_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="The shared prefix as a fraction of each prompt's input length (deterministic `D` "
        "scenarios only); instead of `prefix_len`.",
    )
    warmup_ratio: RequestShare | None = Field(
        default=None,
        description="Share of each round's first requests left out of its metrics, while the engine warms up. "
        "genai-bench still counts their time in the round's duration, so throughputs are a little lower.",
    )
    cooldown_ratio: RequestShare | None = Field(
        default=None,
        description="Share of each round's last requests left out of its metrics, as the load winds down.",
    )
    hf_token_env: EnvName | None = Field(
        default="HF_TOKEN",
        description="Name of the variable in servetune's environment that holds a Hugging Face token, handed to "
        "genai-bench as HF_TOKEN when the tokenizer or dataset is a Hub id (a gated one needs it). The name only: "
        "the value is never written in the spec, stored or logged, and genai-bench gets no other secret.",
    )
    workers: int = Field(
        default=0,
        ge=0,
        description="Load-generating worker processes genai-bench starts beside its main one; 0 runs the load "
        "in one process, which one core saturates at a few hundred concurrent requests.",
    )
    max_time_per_run: PositiveInt = Field(
        default=1, description="Minutes one scenario-and-concurrency run may take (genai-bench's unit)."
    )
    max_requests_per_run: PositiveInt = Field(
        default=20,
        description="Requests sent in one scenario-and-concurrency run; the run ends after this many or after "
        "`max_time_per_run`, whichever comes first. A run of a few seconds measures its own start and end more "
        "than the configuration (10-15% apart between runs on this project's CPU surface): to compare "
        "configurations closely, set it high enough that time ends the run.",
    )
    extra_request_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra fields for every request body, such as temperature or ignore_eos.",
        examples=[{"ignore_eos": True, "temperature": 0.0}],
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (top := max(self.concurrency)) > self.max_requests_per_run:
            raise ValueError(
                f"concurrency level {top} is above max_requests_per_run ({self.max_requests_per_run}): genai-bench "
                f"ends a round after that many requests, so {top} are never in flight at once; raise "
                f"max_requests_per_run to at least {top} or drop the higher levels"
            )
        allowed = TASK_SCENARIOS[self.task]
        for scenario in self.traffic_scenarios:
            if scenario != DATASET_SCENARIO and scenario[:1] not in allowed:
                kinds = " or ".join(f"{kind}(...)" for kind in allowed)
                raise ValueError(f"traffic scenario {scenario!r} does not fit task {self.task.value}: it takes {kinds}")
        if DATASET_SCENARIO in self.traffic_scenarios:
            if self.dataset is None:
                raise ValueError("the 'dataset' traffic scenario sends the prompts of benchmark.dataset; give one")
            if self.prefix_len is not None or self.prefix_ratio is not None:
                raise ValueError("a shared prefix needs D, N or U traffic scenarios, which shape each prompt")
        if self.prefix_len is not None and self.prefix_ratio is not None:
            raise ValueError("give prefix_len or prefix_ratio, not both")
        if self.prefix_ratio is not None and any(not s.startswith("D(") for s in self.traffic_scenarios):
            raise ValueError("prefix_ratio needs deterministic D(in,out) traffic scenarios; use prefix_len")
        if self.prefix_len is not None:
            for scenario in self.traffic_scenarios:
                if (shortest := smallest_input(scenario)) is not None and self.prefix_len > shortest:
                    raise ValueError(
                        f"prefix_len ({self.prefix_len}) is longer than the shortest input of {scenario} ({shortest} "
                        "tokens); a shared prefix must fit in every prompt"
                    )
        if (self.warmup_ratio or 0) + (self.cooldown_ratio or 0) >= 1:
            raise ValueError(
                f"warmup_ratio ({self.warmup_ratio}) + cooldown_ratio ({self.cooldown_ratio}) leave no request "
                "to measure; their sum must be below 1"
            )
        return self

    def missing_files(self) -> list[str]:
        return self.dataset.missing_files() if self.dataset is not None else []

    @field_validator("concurrency")
    @classmethod
    def _ascending(cls, levels: list[int]) -> list[int]:
        if len(set(levels)) != len(levels):
            raise ValueError(f"concurrency levels repeat: {levels}")
        return sorted(levels)
