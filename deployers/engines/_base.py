"""What an inference engine adapter provides: its launch argv, environment and health endpoint."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

from tuning.spec import Configuration, EngineSpec, ModelSpec, TuningSpec

if TYPE_CHECKING:
    from deployers.engines._flags import EngineFlags
    from deployers.engines._memory import ShapeFlags
    from deployers.engines._neutral import NeutralFlag
    from tuning.evaluation.memory_fit import ServingShape


def flag_args(params: Configuration) -> list[str]:
    """Engine flags from typed values: ``True`` is a bare flag, ``False`` is left out, others are one argv item."""
    argv: list[str] = []
    for name, value in params.items():
        if value is True:
            argv.append(f"--{name}")
        elif value is not False:
            argv += [f"--{name}", str(value)]
    return argv


class EngineAdapter(abc.ABC):
    """How one inference engine is launched and probed; one module per engine."""

    name: ClassVar[str]
    #: genai-bench's ``--api-backend`` for this engine.
    api_backend: ClassVar[str]
    health_path: ClassVar[str] = "/health"
    #: The argv prefix that starts the server inside the engine's container image. A container deployer sets
    #: it as the entrypoint explicitly rather than trusting the image's own ENTRYPOINT.
    container_launcher: ClassVar[list[str]]
    #: The environment `make setup` builds whose interpreter can read this engine's flags (for messages).
    flags_venv: ClassVar[str | None] = None
    #: How this engine spells each engine-neutral dimension (``quantization.*``, ``parallelism.*``).
    neutral_flags: ClassVar[dict[str, NeutralFlag]] = {}
    #: A pre-quantized model's ``quant_method`` -> the weights methods this engine serves it with.
    quantized_kernels: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: The flags that decide what the engine holds in each GPU's memory.
    shape_flags: ClassVar[ShapeFlags]

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec

    def parameters(self, params: Configuration) -> Configuration:
        """The trial's flags: the spec's fixed ``engine.args`` overlaid with the trial's parameters, its
        engine-neutral dimensions turned into this engine's flags."""
        from deployers.engines._neutral import translate

        return translate(self.neutral_flags, {**self.spec.args, **params})

    @abc.abstractmethod
    def launcher(self) -> list[str]:
        """The argv prefix that starts the engine's server from its local environment (engine.venv/python)."""

    @abc.abstractmethod
    def server_args(
        self, model: ModelSpec, params: Configuration, host: str, port: int, model_path: str | None = None
    ) -> list[str]:
        """The server's own arguments: what a container image's entrypoint takes.

        ``model_path`` replaces ``model.path`` where the model is seen under another path (a container mount).
        """

    def command(self, model: ModelSpec, params: Configuration, host: str, port: int) -> list[str]:
        """The full argv that launches the engine serving ``model`` with ``params`` on ``host:port``."""
        return self.launcher() + self.server_args(model, params, host, port)

    def env(self) -> dict[str, str]:
        """Variables the engine needs beyond the user's ``engine.env``."""
        return {}

    @abc.abstractmethod
    def gpu_count(self, params: Configuration) -> int:
        """Accelerators one deployment with these parameters occupies (at least 1)."""

    def refusal(self, params: Configuration) -> str | None:
        """Why the engine would refuse to start with these flags, known before starting it; None if it would not.

        Only rules the engine itself enforces at start-up belong here, so no GPU time is spent learning them.
        """
        return None

    def serving_shape(self, params: Configuration) -> ServingShape:
        """What an engine started with ``params`` holds on each GPU, as far as its flags say (the memory fit)."""
        from deployers.engines._memory import serving_shape

        return serving_shape(self.parameters(params), self.shape_flags)

    def flags(self) -> EngineFlags:
        """The engine's flags as its own parser defines them, read with ``engine.python``/``engine.venv``.

        Cached per interpreter and engine version. Raises ``FlagsUnavailable`` when that interpreter is missing
        or has no such engine installed.
        """
        from deployers.engines._flags import engine_flags

        return engine_flags(self.name, self.spec.interpreter)

    def managed_flags(self) -> list[str]:
        """The flags ``server_args`` sets itself from ``model.*`` and the deployer: a spec must not set them too."""
        bare = type(self)(EngineSpec(name=self.spec.name))
        argv = bare.server_args(ModelSpec(path="/model", tokenizer="/tokenizer"), {}, "127.0.0.1", 1)
        return [item[2:] for item in argv if item.startswith("--")]

    def check_flags(self, spec: TuningSpec, flags: EngineFlags | None = None) -> list[str]:
        """Problems with ``engine.args`` and ``search_space`` (its engine-neutral dimensions as this engine's
        flags) against the installed engine, one line each."""
        from deployers.engines._neutral import check

        flags = flags or self.flags()
        return check(spec, flags, tuple(self.managed_flags()), self.neutral_flags, self.quantized_kernels)

    def neutral_problems(self, spec: TuningSpec) -> list[str]:
        """What stops the spec's engine-neutral dimensions from mapping to this engine, known without its parser."""
        from deployers.engines._neutral import engine_spec, quantized_model_problems

        problems = engine_spec(spec, self.name, self.neutral_flags)[1]
        return problems + quantized_model_problems(spec, self.neutral_flags, self.quantized_kernels, self.name)

    def neutral_lines(self, spec: TuningSpec) -> list[str]:
        """Each engine-neutral dimension of the spec and the flags of this engine its values become."""
        from deployers.engines._neutral import mapped_lines

        return mapped_lines(spec, self.neutral_flags)
