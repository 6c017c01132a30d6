"""The model to serve and the engine that serves it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from tuning.spec._base import (
    SECRET_NAME,
    EnvName,
    NonEmptyStr,
    ParamValue,
    StrictModel,
    canonical_flags,
    looks_like_secret,
    resolve_path,
)


class ModelSpec(StrictModel):
    """The model to serve."""

    path: NonEmptyStr = Field(
        description="Local folder of the model, or a Hugging Face id the engine can load.",
        examples=["~/.cache/servetune/models/tiny-llama", "meta-llama/Llama-3.1-8B-Instruct"],
    )
    tokenizer: NonEmptyStr | None = Field(
        default=None,
        description="Tokenizer genai-bench counts tokens with, the model's own: a local folder (loaded offline) or a "
        "Hugging Face id (fetched, with the token `benchmark.hf_token_env` names). Defaults to `path`.",
    )
    served_name: NonEmptyStr | None = Field(
        default=None,
        description="Name the engine serves the model under (the `model` field of requests). "
        "Defaults to the last part of `path`.",
    )

    _paths = field_validator("path", "tokenizer")(resolve_path)

    @property
    def name(self) -> str:
        return self.served_name or Path(self.path).name

    @property
    def tokenizer_path(self) -> str:
        return self.tokenizer or self.path


class EngineName(StrEnum):
    vllm = "vllm"
    sglang = "sglang"


class EngineSpec(StrictModel):
    """The inference engine, and the environment it runs in."""

    name: EngineName = Field(default=EngineName.vllm, description="Inference engine to tune.")
    venv: NonEmptyStr | None = Field(
        default=None,
        description="Virtualenv the engine is installed in; its `bin/python` runs the engine. "
        "Keeps the engine's dependencies apart from servetune's, as a container would.",
        examples=["../.venvs/vllm-cpu"],
    )
    python: NonEmptyStr | None = Field(
        default=None,
        description="Interpreter that runs the engine, when not given through `venv`. Defaults to `python3`.",
    )
    args: dict[str, ParamValue] = Field(
        default_factory=dict,
        description="Engine flags applied to every trial, written without leading dashes. "
        "`true` becomes a bare flag and `false` leaves it out.",
        examples=[{"enforce-eager": True, "max-model-len": 1024}],
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        description="Environment variables for the engine process. Secrets do not belong here: "
        "name them in `pass_env`.",
        examples=[{"VLLM_CPU_KVCACHE_SPACE": "1"}],
    )
    pass_env: list[EnvName] = Field(
        default_factory=list,
        description="Names of variables passed from servetune's environment to the engine, such as "
        "HF_TOKEN. Their values are never stored or logged.",
        examples=[["HF_TOKEN"]],
    )

    _venv = field_validator("venv", "python")(resolve_path)

    @field_validator("args")
    @classmethod
    def _flag_names(cls, args: dict[str, Any]) -> dict[str, Any]:
        return canonical_flags(args)

    @field_validator("env")
    @classmethod
    def _no_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if SECRET_NAME.search(name) or looks_like_secret(value):
                raise ValueError(
                    f"{name!r} looks like a secret; put its name in engine.pass_env instead, so its value "
                    "stays out of the spec, the database and the logs"
                )
        return env

    @model_validator(mode="after")
    def _one_interpreter(self) -> Self:
        if self.venv and self.python:
            raise ValueError("give either engine.venv or engine.python, not both")
        return self

    @property
    def interpreter(self) -> str:
        if self.venv:
            return str(Path(self.venv) / "bin" / "python")
        return self.python or "python3"
