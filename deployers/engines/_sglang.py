"""SGLang: ``python -m sglang.launch_server`` with SGLang's own flag names (mem-fraction-static, tp-size, ...)."""

from __future__ import annotations

from typing import ClassVar

from deployers.engines._base import EngineAdapter, flag_args
from deployers.engines._memory import ShapeFlags
from deployers.engines._neutral import NeutralFlag
from tuning.spec import Configuration, ModelSpec

# Every spelling SGLang (0.5.x) accepts for its parallelism sizes.
_TENSOR = ("tp-size", "tensor-parallel-size", "tp")
_PIPELINE = ("pp-size", "pipeline-parallel-size", "pp")
_DATA = ("dp-size", "data-parallel-size", "dp")


def _size(params: Configuration, names: tuple[str, ...]) -> int:
    for name in names:
        if name in params:
            return int(params[name])
    return 1


class SglangAdapter(EngineAdapter):
    name: ClassVar[str] = "sglang"
    # genai-bench 0.0.5 speaks SGLang's OpenAI-compatible API under its own backend name.
    api_backend: ClassVar[str] = "sglang"
    health_path: ClassVar[str] = "/health"
    container_launcher: ClassVar[list[str]] = ["python3", "-m", "sglang.launch_server"]
    flags_venv: ClassVar[str | None] = ".venvs/sglang-flags"
    neutral_flags: ClassVar[dict[str, NeutralFlag]] = {
        "quantization.weights": NeutralFlag("quantization", omitted=("none",)),
        "quantization.kv-cache": NeutralFlag("kv-cache-dtype"),
        # The data type prefill attention dequantizes the KV cache to (an nvfp4 cache's).
        "quantization.attention": NeutralFlag("prefill-kv-cache-dequant-dtype"),
        # The computation precision of the MoE experts (flashinfer's MXFP4 MoE).
        "quantization.moe": NeutralFlag("flashinfer-mxfp4-moe-precision"),
        "parallelism.tp": NeutralFlag("tp-size"),
        "parallelism.pp": NeutralFlag("pp-size"),
        "parallelism.dp": NeutralFlag("dp-size"),
        "parallelism.ep": NeutralFlag("ep-size"),
    }
    quantized_kernels: ClassVar[dict[str, tuple[str, ...]]] = {
        "awq": ("awq", "awq_marlin"),
        "gptq": ("gptq", "gptq_marlin"),
    }

    shape_flags: ClassVar[ShapeFlags] = ShapeFlags(
        tensor=_TENSOR,
        pipeline=_PIPELINE,
        data=_DATA,
        max_model_len="context-length",
        batched_tokens="chunked-prefill-size",
        memory_fraction="mem-fraction-static",
        # SGLang works its default out from the GPU's memory; none is above this, so the fit is never stricter.
        default_memory_fraction=0.95,
        expert_size="ep-size",
    )

    def launcher(self) -> list[str]:
        return [self.spec.interpreter, "-m", "sglang.launch_server"]

    def server_args(
        self, model: ModelSpec, params: Configuration, host: str, port: int, model_path: str | None = None
    ) -> list[str]:
        argv = [
            "--model-path", model_path or model.path,
            "--served-model-name", model.name,
            "--host", host,
            "--port", str(port),
        ]  # fmt: skip
        if model.tokenizer:
            argv += ["--tokenizer-path", model.tokenizer]
        return argv + flag_args(self.parameters(params))

    def env(self) -> dict[str, str]:
        # A local model must never trigger a download attempt from a model hub that may be unreachable.
        return {"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"}

    def refusal(self, params: Configuration) -> str | None:
        # SGLang's parallel set-up asserts these at start-up (srt/arg_groups/parallel_hook.py and
        # model_runner_components/moe_ep_setup.py, 0.5.23).
        merged = self.parameters(params)
        tensor, data, expert = _size(merged, _TENSOR), _size(merged, _DATA), _size(merged, ("ep-size", "ep"))
        attention_data = _size(merged, ("attn-dp-size",))
        if merged.get("enable-dp-attention") is True:
            attention_data = data  # the legacy switch: dp-size splits attention inside the tensor-parallel group
        elif attention_data > 1 and data > 1:
            return f"SGLang refuses dp-size {data} (replicas) together with attn-dp-size {attention_data}"
        if attention_data > 1 and tensor % attention_data:
            return f"SGLang refuses tp-size {tensor} that attention data parallel size {attention_data} does not divide"
        if expert > 1 and tensor % expert:
            return f"SGLang refuses tp-size {tensor} that ep-size {expert} does not divide (experts split the TP group)"
        return None

    def gpu_count(self, params: Configuration) -> int:
        """tp x pp GPUs per replica, times dp replicas.

        With the legacy ``enable-dp-attention`` switch, SGLang's dp-size splits attention inside the tensor-parallel
        group instead of adding replicas (as ``attn-dp-size`` does), so it adds no GPUs.
        """
        merged = self.parameters(params)
        tensor, pipeline, data = _size(merged, _TENSOR), _size(merged, _PIPELINE), _size(merged, _DATA)
        if merged.get("enable-dp-attention") is True:
            data = 1
        return max(1, tensor * pipeline * data)
