"""The load genai-bench puts on each configuration."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PositiveInt, field_validator

from tuning.spec._base import StrictModel


class BenchmarkTask(StrEnum):
    text_to_text = "text-to-text"


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
}


def _check_scenario(scenario: Any) -> Any:
    if not isinstance(scenario, str):
        return scenario  # pydantic's own str check reports it
    scenario = scenario.strip()
    pattern = SCENARIO_PATTERNS.get(scenario[:1])
    if pattern is None or not re.match(pattern, scenario):
        raise ValueError(
            f"{scenario!r} is not a genai-bench text traffic scenario; expected D(in,out), "
            "N(in_mean,in_sd)/(out_mean,out_sd) or U(in_min,in_max)/(out_min,out_max), "
            "for example 'D(100,100)', 'N(480,240)/(300,150)' or 'U(50,100)/(200,250)'"
        )
    return scenario


class BenchmarkSpec(StrictModel):
    """The load genai-bench puts on each configuration."""

    task: BenchmarkTask = Field(default=BenchmarkTask.text_to_text, description="genai-bench task.")
    traffic_scenarios: Annotated[
        list[Annotated[str, BeforeValidator(_check_scenario)]],
        BeforeValidator(_scenario_list),
        Field(min_length=1),
    ] = Field(
        default_factory=lambda: ["D(100,100)"],
        description="genai-bench traffic scenarios, one list item each.",
        examples=[["D(100,100)", "N(480,240)/(300,150)"]],
    )
    concurrency: list[PositiveInt] = Field(
        default_factory=lambda: [1, 4],
        min_length=1,
        description="Concurrency levels, benchmarked in ascending order.",
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

    @field_validator("concurrency")
    @classmethod
    def _ascending(cls, levels: list[int]) -> list[int]:
        if len(set(levels)) != len(levels):
            raise ValueError(f"concurrency levels repeat: {levels}")
        return sorted(levels)
