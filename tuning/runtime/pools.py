"""Work pools per GPU class, declared in a small file (``infra/pools.yaml``) and applied to a Prefect server.

Each pool becomes a Prefect work pool whose base job template is the pool type's default with the file's job
variables as defaults, plus two environment variables for its flow runs: ``SERVETUNE_GPU_CLASS``, so a flow run
knows which class it runs on, and servetune's loggers in ``PREFECT_LOGGING_EXTRA_LOGGERS``, so their messages
reach the run's logs. Each GPU class (all CPU pools together) becomes a global concurrency limit whose limit is
the total of its pools' slots: the GPU slots that trials occupy (``tuning/runtime/gpu_slots.py``). Applying is
idempotent: what already matches the file is reported unchanged and left alone. Nothing is deleted: a pool or
class removed from the file stays on the server until removed there (``prefect work-pool delete``,
``prefect gcl delete``).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator, model_validator

from tuning.errors import ServetuneError
from tuning.runtime.gpu_slots import CPU_CLASS, GPU_CLASS_ENV, limit_name
from tuning.runtime.run_logs import EXTRA_LOGGERS_ENV, extra_loggers
from tuning.spec.loading import InvalidFile, describe_validation_error, read_document

DEFAULT_FILE = Path("infra") / "pools.yaml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"://[^/@\s:]*:[^/@\s]+@")


class PoolFileError(InvalidFile):
    kind = "pools file"


class PoolApplyError(ServetuneError, RuntimeError):
    """The server holds something the file cannot be applied over (say, a pool of another type)."""


def default_job_template(pool_type: str) -> dict[str, Any]:
    """The base job template a worker of ``pool_type`` starts from, from the worker class installed here."""
    from prefect.workers.base import BaseWorker

    worker = BaseWorker.get_worker_class_from_type(pool_type)
    if worker is None:
        raise ValueError(
            f"no {pool_type!r} worker is installed where the pools are applied "
            f"(for kubernetes: pip install prefect-kubernetes)"
        )
    return copy.deepcopy(worker.get_default_base_job_template())


class Pool(BaseModel):
    """One work pool: a kind of machine that workers serve."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Work pool name: lowercase letters, digits and dashes, e.g. gpu-h100.")
    type: Literal["process", "kubernetes"] = Field(
        default="process",
        description="Worker type: process runs flow runs as processes on the worker's machine; kubernetes "
        "as Jobs (needs prefect-kubernetes where the pools are applied).",
    )
    gpu_class: str | None = Field(
        description="GPU class of the pool's machines (e.g. h100), naming its concurrency limit "
        "servetune-gpu-<class>; null for a pool of machines without GPUs."
    )
    slots: PositiveInt = Field(
        description="GPUs of this class in the pool (GPUs per machine x machines), or for a CPU pool the trials "
        "its machines run at once."
    )
    description: str = Field(default="", description="Shown with the pool in the Prefect UI.")
    job_variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Defaults of the pool type's job variables (env, working_dir, ...) for every flow run.",
    )

    @field_validator("name")
    @classmethod
    def _pool_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a pool name: use 1-63 lowercase letters, digits and dashes")
        return name

    @field_validator("gpu_class")
    @classmethod
    def _class_name(cls, gpu_class: str | None) -> str | None:
        if gpu_class is not None and not _NAME.match(gpu_class):
            raise ValueError(f"{gpu_class!r} is not a GPU class: use lowercase letters, digits and dashes (h100)")
        return gpu_class

    @model_validator(mode="after")
    def _job_variables_fit_the_type(self) -> Self:
        import jsonschema

        try:
            properties = default_job_template(self.type)["variables"]["properties"]
        except ValueError as exc:
            raise ValueError(f"type: {exc}") from None
        for key, value in self.job_variables.items():
            if key not in properties:
                raise ValueError(
                    f"job_variables.{key}: not a job variable of a {self.type} pool "
                    f"(it has: {', '.join(sorted(properties))})"
                )
            try:
                jsonschema.validate(value, properties[key])
            except jsonschema.ValidationError as exc:
                where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
                raise ValueError(f"job_variables.{key}{where}: {exc.message}") from None
        env = self.job_variables.get("env") or {}
        for name, value in env.items():
            password = isinstance(value, str) and _URL_PASSWORD.search(value) is not None
            if password or _SECRET_NAME.search(name):
                raise ValueError(
                    f"job_variables.env.{name}: {'a URL with a password' if password else 'looks like a secret'}; "
                    "the work pool shows it to everyone who can read the Prefect server: set it in the worker's "
                    "environment instead"
                )
        if GPU_CLASS_ENV in env:
            raise ValueError(f"job_variables.env.{GPU_CLASS_ENV}: set from gpu_class; do not set it here")
        return self

    @property
    def limit_name(self) -> str:
        return limit_name(self.gpu_class)

    def base_job_template(self) -> dict[str, Any]:
        """The type's default template, with the file's job variables (and the GPU class) as defaults."""
        template = default_job_template(self.type)
        properties = template["variables"]["properties"]
        for key, value in self.job_variables.items():
            properties[key]["default"] = value
        if "env" in properties:
            env = dict(self.job_variables.get("env") or {})
            env[GPU_CLASS_ENV] = self.gpu_class or CPU_CLASS
            # A worker's flow runs send servetune's log records to their run's logs, besides the file's own.
            env[EXTRA_LOGGERS_ENV] = extra_loggers(env.get(EXTRA_LOGGERS_ENV))
            properties["env"]["default"] = env
        return template


class PoolsFile(BaseModel):
    """``infra/pools.yaml``: the work pools of a servetune fleet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pools: list[Pool] = Field(min_length=1, description="One entry per work pool.")

    @field_validator("pools")
    @classmethod
    def _unique_names(cls, pools: list[Pool]) -> list[Pool]:
        seen: dict[str, int] = {}
        for index, pool in enumerate(pools):
            if pool.name in seen:
                raise ValueError(f"[{index}].name: {pool.name!r} is already the name of pools[{seen[pool.name]}]")
            seen[pool.name] = index
        return pools

    def limits(self) -> dict[str, int]:
        """Each concurrency limit's size: the slots of every pool of its GPU class, added up."""
        totals: dict[str, int] = {}
        for pool in self.pools:
            totals[pool.limit_name] = totals.get(pool.limit_name, 0) + pool.slots
        return totals


def pools_from_data(data: Any, source: str = "pools file") -> PoolsFile:
    if not isinstance(data, dict):
        raise PoolFileError(source, [f"(top level): expected a mapping with `pools`, got {type(data).__name__}"])
    try:
        return PoolsFile.model_validate(data)
    except ValidationError as exc:
        raise PoolFileError(
            source, describe_validation_error(exc, "the fields are described in infra/pools.yaml")
        ) from None


def load_pools(path: str | Path) -> PoolsFile:
    return pools_from_data(read_document(path, PoolFileError), str(path))


def _apply_pool(client: Any, pool: Pool) -> str:
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectNotFound

    template = pool.base_job_template()
    try:
        existing = client.read_work_pool(pool.name)
    except ObjectNotFound:
        client.create_work_pool(
            WorkPoolCreate(name=pool.name, type=pool.type, description=pool.description, base_job_template=template)
        )
        return f"created work pool {pool.name} ({pool.type}, {_class_text(pool.gpu_class)})"
    if existing.type != pool.type:
        raise PoolApplyError(
            f"work pool {pool.name} exists with type {existing.type!r}, not {pool.type!r}; Prefect cannot change a "
            f"pool's type: delete it first (prefect work-pool delete {pool.name})"
        )
    if existing.base_job_template == template and (existing.description or "") == pool.description:
        return f"unchanged work pool {pool.name}"
    client.update_work_pool(pool.name, WorkPoolUpdate(description=pool.description, base_job_template=template))
    return f"updated work pool {pool.name}"


def _apply_limit(client: Any, name: str, slots: int) -> str:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    try:
        existing = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots, active=True))
        return f"created concurrency limit {name} ({slots} slots)"
    if existing.limit == slots and existing.active:
        return f"unchanged concurrency limit {name} ({slots} slots)"
    client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=slots, active=True))
    return f"updated concurrency limit {name} ({existing.limit} -> {slots} slots)"


def _class_text(gpu_class: str | None) -> str:
    return f"GPU class {gpu_class}" if gpu_class else "no GPU"


def apply_pools(path: str | Path = DEFAULT_FILE, client: Any = None) -> list[str]:
    """Create or update each pool of the file and each GPU class's concurrency limit; one line per object,
    saying whether it was created, updated or unchanged."""
    pools = load_pools(path)
    if client is None:
        from prefect import get_client

        with get_client(sync_client=True) as own:
            return apply_pools(path, own)
    done = [_apply_pool(client, pool) for pool in pools.pools]
    done += [_apply_limit(client, name, slots) for name, slots in pools.limits().items()]
    return done
