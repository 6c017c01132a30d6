"""The tuning spec: the one schema that the CLI, the Prefect run form, the database and the docs derive from.

Every model forbids unknown keys, so a misspelt field is an error that names it rather than a silently
ignored setting.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    PositiveFloat,
    PositiveInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"a parameter value must be a number, a string or true/false, not {value!r}")


# Kept as the exact Python type end to end: bool becomes a bare flag, numbers and strings separate argv items.
ParamValue = Annotated[bool | int | float | str, BeforeValidator(_scalar)]
Configuration = dict[str, bool | int | float | str]

_FLAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
_RUN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_flag_name(name: str) -> str:
    """The flag's canonical spelling: engines accept ``max_num_seqs`` for ``max-num-seqs``; servetune keeps one."""
    if name.startswith("-"):
        raise ValueError(f"write the engine flag without leading dashes: {name.lstrip('-')!r}, not {name!r}")
    if not _FLAG_NAME.match(name):
        raise ValueError(f"{name!r} is not an engine flag name (letters, digits, '-', '_' and '.')")
    return name.replace("_", "-")


def _canonical_flags(flags: dict[str, Any]) -> dict[str, Any]:
    canonical: dict[str, Any] = {}
    for name, value in flags.items():
        key = _check_flag_name(name)
        if key in canonical:
            raise ValueError(f"{name!r} is the same flag as {key!r}, given twice")
        canonical[key] = value
    return canonical


def _resolve_path(value: str | None, info: ValidationInfo) -> str | None:
    """Expand ``~``; make ``./`` and ``../`` paths absolute against the spec file's folder, when there is one.

    Anything else is left as written: ``org/model`` is a hub id, not a relative path. Symlinks are kept, so
    a linked model folder keeps its own name.
    """
    if value is None:
        return None
    if value.startswith("~"):
        return os.path.expanduser(value)
    base = (info.context or {}).get("base_dir")
    if value.startswith(("./", "../")) or value in (".", ".."):
        return os.path.normpath(os.path.join(base or os.getcwd(), value))
    return value


class ModelSpec(StrictModel):
    """The model to serve."""

    path: str = Field(
        description="Local folder of the model, or a Hugging Face id the engine can load.",
        examples=["~/.cache/servetune/models/tiny-llama", "meta-llama/Llama-3.1-8B-Instruct"],
    )
    tokenizer: str | None = Field(
        default=None,
        description="Tokenizer genai-bench counts tokens with; it must be the model's own and load offline. "
        "Defaults to `path`.",
    )
    served_name: str | None = Field(
        default=None,
        description="Name the engine serves the model under (the `model` field of requests). "
        "Defaults to the last part of `path`.",
    )

    _paths = field_validator("path", "tokenizer")(_resolve_path)

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
    venv: str | None = Field(
        default=None,
        description="Virtualenv the engine is installed in; its `bin/python` runs the engine. "
        "Keeps the engine's dependencies apart from servetune's, as a container would.",
        examples=["../.venvs/vllm-cpu"],
    )
    python: str | None = Field(
        default=None,
        description="Interpreter that runs the engine, when not given through `venv`. Defaults to `python3`.",
    )
    args: dict[str, ParamValue] = Field(
        default_factory=dict,
        description="Engine flags applied to every trial, written without leading dashes. "
        "`true` becomes a bare flag and `false` leaves it out.",
        examples=[{"enforce-eager": True, "max-model-len": 1024}],
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables for the engine process. Secrets do not belong here: "
        "name them in `pass_env`.",
        examples=[{"VLLM_CPU_KVCACHE_SPACE": "1"}],
    )
    pass_env: list[str] = Field(
        default_factory=list,
        description="Names of variables passed from servetune's environment to the engine, such as "
        "HF_TOKEN. Their values are never stored or logged.",
        examples=[["HF_TOKEN"]],
    )

    _venv = field_validator("venv", "python")(_resolve_path)

    @field_validator("args")
    @classmethod
    def _flag_names(cls, args: dict[str, Any]) -> dict[str, Any]:
        return _canonical_flags(args)

    @field_validator("env")
    @classmethod
    def _no_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if _SECRET_NAME.search(name):
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


class LocalDeployerSpec(StrictModel):
    """Run the engine as a process on this machine."""

    kind: Literal["local"] = Field(default="local", description="Which deployer runs the engine.")
    host: str = Field(default="127.0.0.1", description="Address the engine listens on.")
    stop_grace: PositiveFloat = Field(
        default=15.0, description="Seconds between SIGTERM and SIGKILL when stopping the engine."
    )


class DockerDeployerSpec(StrictModel):
    """Run the engine in a Docker container (a Docker daemon; for GPUs, the NVIDIA container toolkit)."""

    kind: Literal["docker"] = Field(description="Which deployer runs the engine.")
    image: str = Field(
        description="Engine image, tag included (`latest` when left out); a registry host with a port is fine, "
        "and so is a digest (`@sha256:...`).",
        examples=["vllm/vllm-openai:v0.11.0", "registry.example.com:5000/lmsysorg/sglang:v0.5.3"],
    )
    pull: Literal["missing", "always", "never"] = Field(
        default="missing",
        description="When to pull the image: `missing` only when the daemon does not have it, `always` before "
        "every trial, `never` (a missing image fails the trial).",
    )
    docker_host: str | None = Field(
        default=None,
        description="Address of the Docker daemon. Defaults to `DOCKER_HOST`, else the local socket. The daemon "
        "must run on this machine: servetune reaches the engine at 127.0.0.1.",
        examples=["unix:///run/user/1000/docker.sock"],
    )
    network: Literal["bridge", "host"] = Field(
        default="bridge",
        description="`bridge` publishes the engine's `container_port` on 127.0.0.1 at a free port; `host` shares "
        "this machine's network, and the engine listens on 127.0.0.1 at a free port.",
    )
    container_port: int = Field(
        default=8000, ge=1, le=65535, description="Port the engine listens on inside the container (bridge network)."
    )
    shm_size: str = Field(
        default="16g",
        description="Size of the container's /dev/shm (Docker's `--shm-size`: a number with `b`, `k`, `m` or `g`). "
        "With `ipc_mode: host` the container uses this machine's /dev/shm instead.",
        examples=["32g"],
    )
    ipc_mode: str = Field(
        default="host",
        description="IPC namespace (Docker's `--ipc`). `host` gives the engine's tensor-parallel workers the shared "
        "memory they exchange data through; `private` isolates it, with `shm_size` of /dev/shm.",
        examples=["private"],
    )
    model_mount: str = Field(
        default="/models",
        description="Folder in the container under which a local `model.path` (and a local `model.tokenizer`) is "
        "mounted read-only, by its folder name; the engine is given that path. A Hugging Face id is not mounted.",
    )
    stop_grace: PositiveFloat = Field(
        default=30.0, description="Seconds the container gets to stop before it is killed."
    )

    @field_validator("image")
    @classmethod
    def _image_reference(cls, image: str) -> str:
        name, _, digest = image.partition("@")
        last = name.rsplit("/", 1)[-1]
        repository, _, tag = name.rpartition(":") if ":" in last else (name, "", "")
        if digest and not re.fullmatch(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}", digest):
            raise ValueError(f"{image!r}: the digest after '@' should look like sha256:<64 hex digits>")
        if tag and not re.fullmatch(r"\w[\w.-]{0,127}", tag):
            raise ValueError(f"{image!r}: {tag!r} is not an image tag (letters, digits, '_', '.', '-')")
        parts = repository.split("/")
        host = parts[0] if len(parts) > 1 and re.search(r"[.:]|^localhost$", parts[0]) else None
        path = parts[1:] if host else parts
        if host is not None and not re.fullmatch(r"[A-Za-z0-9.-]+(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?", host):
            raise ValueError(f"{image!r}: {host!r} is not a registry host (name or address, optionally :port)")
        component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
        if not path or not all(re.fullmatch(component, part) for part in path):
            raise ValueError(
                f"{image!r} is not an image name: lowercase letters, digits and separators, "
                "such as vllm/vllm-openai:v0.11.0"
            )
        return image

    @property
    def image_reference(self) -> tuple[str, str]:
        """``(repository, tag)`` as Docker pulls them: the tag is `latest` when left out, or the digest."""
        name, _, digest = self.image.partition("@")
        last = name.rsplit("/", 1)[-1]
        repository, tag = (name.rsplit(":", 1)[0], last.split(":", 1)[1]) if ":" in last else (name, "latest")
        return (repository, digest) if digest else (repository, tag)

    @property
    def image_name(self) -> str:
        """The image as the daemon names it: ``repository:tag``, or ``repository@digest``."""
        repository, tag = self.image_reference
        return f"{repository}@{tag}" if "@" in self.image else f"{repository}:{tag}"

    @field_validator("shm_size")
    @classmethod
    def _byte_size(cls, size: str) -> str:
        if not re.fullmatch(r"\d+(?:\.\d+)?[bkmgBKMG]?", size.strip()):
            raise ValueError(f"{size!r} is not a size: a number with b, k, m or g, such as 16g")
        return size.strip()

    @field_validator("model_mount")
    @classmethod
    def _absolute_mount(cls, mount: str) -> str:
        if not mount.startswith("/"):
            raise ValueError(f"{mount!r} must be an absolute path inside the container, such as /models")
        return mount.rstrip("/") or "/"


class OmeDeployerSpec(StrictModel):
    """Run the engine on Kubernetes as an OME InferenceService."""

    kind: Literal["ome"] = Field(description="Which deployer runs the engine.")
    namespace: str = Field(
        default="default",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="Namespace the InferenceServices are created in.",
    )
    base_model: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="Name of the OME ClusterBaseModel to serve; OME mounts its weights in the engine pod and sets "
        "`MODEL_PATH`, which the engine is given as its model.",
        examples=["llama-3-1-8b"],
    )
    serving_runtime: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="Name of the OME ClusterServingRuntime that runs the engine. It supplies the image, CPU, "
        "memory, volumes and tolerations; servetune replaces its runner's command and args with the trial's.",
        examples=["vllm-llama-3-1-8b-instruct"],
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Kubeconfig file to reach the cluster with. Defaults to `KUBECONFIG`, else `~/.kube/config`; "
        "inside the cluster, the pod's service account is used unless this is set.",
        examples=["~/.kube/config"],
    )
    context: str | None = Field(default=None, description="Kubeconfig context to use. Defaults to the current context.")
    in_cluster: bool | None = Field(
        default=None,
        description="Whether servetune runs inside the cluster. `true`: the engine is reached at its Service's "
        "address; `false`: through a port-forward to the engine pod, opened by servetune. Left out: `true` "
        "when `KUBERNETES_SERVICE_HOST` is set.",
    )
    image: str | None = Field(
        default=None,
        description="Engine image for the runner container. Defaults to the serving runtime's image.",
        examples=["docker.io/vllm/vllm-openai:v0.11.0"],
    )
    command: list[str] | None = Field(
        default=None,
        description="Entrypoint of the engine container; the trial's flags are its args. Defaults to the "
        "engine's own launcher (vLLM: `python3 -m vllm.entrypoints.openai.api_server`).",
        examples=[["vllm", "serve"]],
    )
    container_name: str = Field(
        default="ome-container",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="Name of the runtime's runner container (OME's default is `ome-container`): the container "
        "servetune configures and reads the engine log from.",
    )
    port: int = Field(
        default=8080,
        ge=1,
        le=65535,
        description="Port the engine listens on in its pod. It must be the runtime's container port "
        "(8080 in OME's runtimes), which OME's Service forwards to.",
    )
    service_port: int = Field(
        default=8080,
        ge=1,
        le=65535,
        description="Port of the Service OME puts in front of the engine (see the InferenceService's "
        "`status.url`); used when servetune runs in the cluster.",
    )
    gpu_resource: str = Field(
        default="nvidia.com/gpu",
        description="Extended resource the engine's accelerators are requested as; the count comes from the "
        "trial's parallelism flags.",
        examples=["amd.com/gpu"],
    )
    poll_interval: PositiveFloat = Field(
        default=2.0, description="Seconds between status checks while waiting for readiness or removal."
    )
    delete_timeout: PositiveFloat = Field(
        default=300.0,
        description="Seconds teardown waits for the engine's pods to be gone after deleting the "
        "InferenceService (the runtime's termination grace period applies).",
    )

    _kubeconfig = field_validator("kubeconfig")(_resolve_path)


def _deployer_kind(data: Any) -> str:
    # `kind` may be left out for the local deployer, the default.
    if isinstance(data, dict):
        return str(data.get("kind", "local"))
    return str(getattr(data, "kind", "local"))


DeployerSpec = Annotated[
    Annotated[LocalDeployerSpec, Tag("local")]
    | Annotated[DockerDeployerSpec, Tag("docker")]
    | Annotated[OmeDeployerSpec, Tag("ome")],
    Discriminator(
        _deployer_kind,
        custom_error_type="deployer_kind",
        custom_error_message="deployer.kind must be 'local', 'docker' or 'ome'",
    ),
]


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


class StrategySpec(StrictModel):
    """How configurations are chosen: every point of a grid, or an Optuna sampler that learns from results."""

    name: StrategyName = Field(
        default=StrategyName.grid,
        description="`grid` tries every configuration in order; `random` samples uniformly; `tpe` is Optuna's "
        "multivariate TPE, which learns from each result and steers away from configurations that broke a "
        "hard SLO; `gp` is Optuna's Gaussian-process sampler, also constrained by the hard SLOs; when the space "
        "is a finite list of configurations, it scores every one not yet tried and runs the best (among those "
        "likely to meet the hard SLOs, while there are any), so it never repeats one. With several "
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
    seed: int | None = Field(default=None, description="Seed of the sampler, for a reproducible search.")
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

    @field_validator("pool")
    @classmethod
    def _pool_name(cls, pool: str | None) -> str | None:
        if pool is not None and not _RUN_NAME.match(pool):
            raise ValueError(f"{pool!r} is not a work pool name: use lowercase letters, digits and dashes")
        return pool


class ConfirmationSpec(StrictModel):
    """Benchmark numbers are noisy: after the search, the best configurations are measured again."""

    top: int = Field(
        default=3, ge=0, description="How many of the best feasible configurations to benchmark again (0: none)."
    )
    repeats: PositiveInt = Field(default=1, description="How many more times each of them is benchmarked.")


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


class ObjectiveMetric(StrEnum):
    output_throughput = "output_throughput"
    output_throughput_per_gpu = "output_throughput_per_gpu"
    ttft = "ttft"
    tpot = "tpot"
    e2e_latency = "e2e_latency"


class Statistic(StrEnum):
    mean = "mean"
    p50 = "p50"
    p90 = "p90"
    p99 = "p99"


class Aggregate(StrEnum):
    mean = "mean"
    worst = "worst"
    best = "best"


LATENCY_METRICS = frozenset({ObjectiveMetric.ttft, ObjectiveMetric.tpot, ObjectiveMetric.e2e_latency})


class ObjectiveSpec(StrictModel):
    """What makes one configuration better than another."""

    metric: ObjectiveMetric = Field(
        default=ObjectiveMetric.output_throughput,
        description="Throughputs are maximized (tokens/s), latencies minimized (seconds).",
    )
    statistic: Statistic = Field(
        default=Statistic.p90, description="Which statistic of a latency metric; ignored for throughput."
    )
    aggregate: Aggregate = Field(
        default=Aggregate.mean,
        description="How the values of the benchmark rounds (scenario x concurrency) combine into one.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"metric": data} if isinstance(data, str) else data

    @property
    def maximize(self) -> bool:
        return self.metric not in LATENCY_METRICS

    @property
    def label(self) -> str:
        if self.metric in LATENCY_METRICS:
            return f"{self.metric.value} {self.statistic.value} (s)"
        return f"{self.metric.value} (tok/s)"

    @property
    def name(self) -> str:
        """How a pick rule names this objective: the metric, and for a latency its statistic (``ttft_p90``)."""
        if self.metric in LATENCY_METRICS:
            return f"{self.metric.value}_{self.statistic.value}"
        return self.metric.value


class PickRule(StrictModel):
    """How one configuration is picked from the Pareto front of several `objectives` (none beats it on all)."""

    best: str | None = Field(
        default=None,
        description="Name of the objective whose best value wins among the front's points within `limits`: "
        "the metric, and for a latency its statistic, as in `ttft_p90`. Defaults to the first objective.",
        examples=["output_throughput_per_gpu"],
    )
    limits: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="Worst acceptable value of an objective, by name: a ceiling for a minimized objective "
        "(latency, seconds), a floor for a maximized one (tokens/s). A point of the front outside any limit "
        "is not picked; when no point is within them, none is, and the closest is shown.",
        examples=[{"ttft_p90": 0.5}],
    )

    def describe(self, objectives: list[ObjectiveSpec]) -> str:
        """The rule in words, such as ``best output_throughput_per_gpu with ttft_p90 <= 0.5``."""
        best = self.best or objectives[0].name
        maximize = {o.name: o.maximize for o in objectives}
        bounds = [f"{name} {'>=' if maximize.get(name) else '<='} {limit:g}" for name, limit in self.limits.items()]
        return f"best {best}" + (f" with {' and '.join(bounds)}" if bounds else "")


class SLOMetric(StrEnum):
    ttft = "ttft"
    tpot = "tpot"
    e2e_latency = "e2e_latency"
    error_rate = "error_rate"


class SLOSpec(StrictModel):
    """A service-level objective, checked on every benchmark round."""

    metric: SLOMetric = Field(description="Latencies in seconds; error_rate as a fraction of requests.")
    statistic: Statistic = Field(default=Statistic.p90, description="Which statistic of a latency metric.")
    max: float = Field(ge=0, description="Highest acceptable value.")
    hard: bool = Field(
        default=True,
        description="A hard SLO broken in any round makes the configuration infeasible; a soft one "
        "lowers its score in proportion to the excess.",
    )
    penalty: PositiveFloat = Field(
        default=1.0, description="Weight of a soft SLO's penalty per unit of relative excess."
    )

    @property
    def label(self) -> str:
        if self.metric is SLOMetric.error_rate:
            return f"error_rate <= {self.max:g}"
        return f"{self.metric.value} {self.statistic.value} <= {self.max:g}s"


class TimeoutSpec(StrictModel):
    """Seconds each phase may take; past them the work is stopped and the trial recorded as timed out."""

    deploy: PositiveFloat = Field(default=120.0, description="Starting the engine.")
    ready: PositiveFloat = Field(default=600.0, description="From start until it answers a completion.")
    benchmark: PositiveFloat = Field(default=1800.0, description="The whole genai-bench run.")
    trial: PositiveFloat = Field(default=3600.0, description="One trial from deploy to cleanup.")


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
        description="Engine flags to vary (without dashes), each a list of values or a range.",
        examples=[{"max-num-seqs": [4, 16], "max-num-batched-tokens": {"low": 512, "high": 2048, "step": 512}}],
    )
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    hardware: HardwareSpec = Field(default_factory=HardwareSpec)
    confirmation: ConfirmationSpec = Field(default_factory=ConfirmationSpec)
    benchmark: BenchmarkSpec = Field(default_factory=BenchmarkSpec)
    objective: ObjectiveSpec = Field(
        default_factory=ObjectiveSpec,
        description="What makes one configuration better than another. With several `objectives` it is the one "
        "`pick.best` names, and may be left out.",
    )
    objectives: list[ObjectiveSpec] = Field(
        default_factory=list,
        description="Two or more objectives to trade off (each written like `objective`): the search looks for "
        "their Pareto front and `pick` chooses one point of it. Leave empty for a single `objective`.",
        examples=[["output_throughput_per_gpu", {"metric": "ttft", "statistic": "p90"}]],
    )
    pick: PickRule = Field(default_factory=PickRule)
    slos: list[SLOSpec] = Field(default_factory=list, description="Service-level objectives.")
    timeouts: TimeoutSpec = Field(default_factory=TimeoutSpec)
    regression: RegressionSpec = Field(default_factory=RegressionSpec)

    @field_validator("name")
    @classmethod
    def _run_name(cls, name: str) -> str:
        if not _RUN_NAME.match(name):
            raise ValueError(f"{name!r} is not a run name: use 1-63 lowercase letters, digits and dashes")
        return name

    @field_validator("search_space")
    @classmethod
    def _space_flag_names(cls, space: dict[str, Dimension]) -> dict[str, Dimension]:
        return _canonical_flags(space)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        both = sorted(set(self.search_space) & set(self.engine.args))
        if both:
            raise ValueError(f"{both} set both in engine.args and in search_space; keep each in one place")
        phases = self.timeouts.deploy + self.timeouts.ready
        if self.timeouts.trial < phases:
            raise ValueError(f"timeouts.trial ({self.timeouts.trial:g}s) is shorter than deploy + ready ({phases:g}s)")
        return self

    @model_validator(mode="after")
    def _objectives_consistent(self) -> Self:
        if not self.objectives:
            if self.pick != PickRule():
                raise ValueError("pick chooses a point of the Pareto front of several objectives; give objectives")
            if self.strategy.name is StrategyName.nsga2:
                raise ValueError(
                    "strategy.name nsga2 needs two or more objectives (objectives), not one objective; "
                    "use tpe, gp, random or grid for one"
                )
            return self
        names = [o.name for o in self.objectives]
        if len(self.objectives) == 1:
            raise ValueError(
                f"objectives lists one objective ({names[0]}); give two or more, or write a single one as objective"
            )
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"objectives[{index}] ({name}) repeats objectives[{names.index(name)}]")
        for field, name in [("pick.best", self.pick.best)] + [(f"pick.limits.{n}", n) for n in self.pick.limits]:
            if name is not None and name not in names:
                raise ValueError(f"{field}: {name!r} is not one of the objectives: {', '.join(names)}")
        if self.strategy.pruner != "none":
            raise ValueError(
                f"strategy.pruner {self.strategy.pruner!r} cannot be used with several objectives: Optuna prunes "
                "single-objective studies only; use pruner 'none' (a trial that breaks a hard SLO still stops early)"
            )
        picked = self.objectives[names.index(self.pick.best or names[0])]
        if "objective" in self.model_fields_set and self.objective != picked:
            raise ValueError(
                f"objective ({self.objective.name}) differs from the objective pick.best names ({picked.name}); "
                "with objectives, leave objective out"
            )
        object.__setattr__(self, "objective", picked)  # the single objective every one-number view ranks by
        return self

    @property
    def search_objectives(self) -> list[ObjectiveSpec]:
        """What the study optimizes: the `objectives`, or the single `objective`."""
        return list(self.objectives) or [self.objective]

    @model_validator(mode="after")
    def _regression_reachable(self) -> Self:
        if self.objective.maximize and self.regression.threshold >= 1:
            raise ValueError(
                f"regression.threshold: {self.regression.threshold:g} can never be reached, as {self.objective.label} "
                "cannot fall by 100% or more; use a fraction below 1, such as 0.05 for 5%"
            )
        return self
