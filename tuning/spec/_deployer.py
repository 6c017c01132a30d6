"""Where the engine runs: a local process, a Docker container, or an OME InferenceService; or, for demos, a
recorded response surface replayed in place of engine and benchmark."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PositiveFloat, Tag, ValidationInfo, field_validator

from tuning.spec._base import NonEmptyStr, StrictModel, resolve_path

_IPC_MODES = ("host", "private", "shareable", "none")


class LocalDeployerSpec(StrictModel):
    """Run the engine as a process on this machine."""

    kind: Literal["local"] = Field(default="local", description="Which deployer runs the engine.")
    host: NonEmptyStr = Field(default="127.0.0.1", description="Address the engine listens on.")
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
    ipc_mode: str = Field(
        default="host",
        description="IPC namespace (Docker's `--ipc`): `host`, `private`, `shareable`, `none` or "
        "`container:NAME`. `host` gives the engine's tensor-parallel workers this machine's /dev/shm, the shared "
        "memory they exchange data through; `private` isolates it, sized by `shm_size`.",
        examples=["private"],
    )
    shm_size: str | None = Field(
        default=None,
        description="Size of the container's own /dev/shm (Docker's `--shm-size`: a number with `b`, `k`, `m` or "
        "`g`), for an `ipc_mode` other than `host`; Docker gives 64m when it is left out. The daemon refuses it "
        "with `ipc_mode: host`, where the container uses this machine's /dev/shm.",
        examples=["16g"],
    )
    mounts: dict[str, str] = Field(
        default_factory=dict,
        description="More host folders mounted read-only into the container, as host path: container path (both "
        "absolute), such as an engine build or a cache the image does not carry. The model is mounted by itself "
        "(`model_mount`).",
        examples=[{"/opt/engines/vllm": "/opt/vllm"}],
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
    def _byte_size(cls, size: str | None, info: ValidationInfo) -> str | None:
        if size is None:
            return None
        if not re.fullmatch(r"\d+(?:\.\d+)?[bkmgBKMG]?", size.strip()):
            raise ValueError(f"{size!r} is not a size: a number with b, k, m or g, such as 16g")
        if info.data.get("ipc_mode") == "host":
            # The daemon's own words: "cannot set shmsize when running in the host IPC namespace".
            raise ValueError(
                f"{size!r} cannot be set with ipc_mode 'host', where the container uses this machine's /dev/shm "
                "(the daemon refuses both); remove shm_size, or set ipc_mode: private to size the container's own"
            )
        return size.strip()

    @field_validator("ipc_mode")
    @classmethod
    def _ipc_mode(cls, mode: str) -> str:
        if mode not in _IPC_MODES and not re.fullmatch(r"container:[A-Za-z0-9][A-Za-z0-9_.-]*", mode):
            raise ValueError(f"{mode!r} is not an IPC mode: one of {', '.join(_IPC_MODES)}, or container:NAME")
        return mode

    @field_validator("mounts")
    @classmethod
    def _absolute_paths(cls, mounts: dict[str, str]) -> dict[str, str]:
        for source, target in mounts.items():
            for path in (source, target):
                if not path.startswith("/"):
                    raise ValueError(f"{path!r} ({source}: {target}) must be an absolute path")
        return {source.rstrip("/") or "/": target.rstrip("/") or "/" for source, target in mounts.items()}

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

    _kubeconfig = field_validator("kubeconfig")(resolve_path)


class ReplayDeployerSpec(StrictModel):
    """Replay a recorded response surface as engine and benchmark, for demos (docs/replay.md); not a measurement."""

    # Each trial's rounds are the ones the surface recorded for its configuration, so a whole run takes seconds on
    # any machine; what it reports was measured once, elsewhere. The docstring stays one line: docs/spec.md shows it.

    kind: Literal["replay"] = Field(description="Which deployer runs the engine.")
    surface: NonEmptyStr = Field(
        description="The response surface to replay: a CSV file as `python -m benchmarks.surfaces.record` writes "
        "it (one row per configuration and round). A relative path is read from the spec file's folder. Every "
        "configuration of `search_space` (with `engine.args`), and every traffic scenario and concurrency level "
        "of `benchmark`, must be in it; a configuration it recorded as failed fails again.",
        examples=["../benchmarks/surfaces/data/tiny-llama-vllm-cpu-48.csv"],
    )
    noise: float = Field(
        default=0.0,
        ge=0,
        description="Relative spread added to every replayed latency and throughput: each is multiplied by "
        "exp(noise x z), z standard normal, so 0.05 is about 5%. 0 replays the recorded numbers exactly; above "
        "0, repeats of a configuration (confirmation) differ as real measurements do.",
        examples=[0.05],
    )
    seed: int | None = Field(
        default=None,
        description="Seed of the noise: the same seed, spec and trial numbers give the same numbers. Left out, "
        "every run draws afresh.",
    )
    ready_seconds: float = Field(
        default=0.2,
        ge=0,
        description="Seconds a replayed engine takes to become ready: its start-up, simulated.",
    )

    @field_validator("surface")
    @classmethod
    def _surface_path(cls, value: str, info: ValidationInfo) -> str:
        # A surface is always a file: a bare relative path (data/x.csv) is read from the spec's folder too.
        base = (info.context or {}).get("base_dir")
        if base is not None and not os.path.isabs(value) and not value.startswith("~"):
            return os.path.normpath(os.path.join(base, value))
        return resolve_path(value, info) or value


def _deployer_kind(data: Any) -> str:
    # `kind` may be left out for the local deployer, the default.
    if isinstance(data, dict):
        return str(data.get("kind", "local"))
    return str(getattr(data, "kind", "local"))


DeployerSpec = Annotated[
    Annotated[LocalDeployerSpec, Tag("local")]
    | Annotated[DockerDeployerSpec, Tag("docker")]
    | Annotated[OmeDeployerSpec, Tag("ome")]
    | Annotated[ReplayDeployerSpec, Tag("replay")],
    Discriminator(
        _deployer_kind,
        custom_error_type="deployer_kind",
        custom_error_message="deployer.kind must be 'local', 'docker', 'ome' or 'replay'",
    ),
]
