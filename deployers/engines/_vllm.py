"""vLLM: ``python -m vllm.entrypoints.openai.api_server`` with the flags of the installed version."""

from __future__ import annotations

from typing import ClassVar

from deployers.engines._base import EngineAdapter, flag_args
from deployers.engines._memory import ShapeFlags
from deployers.engines._neutral import NeutralFlag
from tuning.spec import Configuration, ModelSpec


def _int_param(params: Configuration, *names: str) -> int:
    for name in names:
        if name in params:
            return int(params[name])
    return 1


class VllmAdapter(EngineAdapter):
    name: ClassVar[str] = "vllm"
    api_backend: ClassVar[str] = "vllm"
    container_launcher: ClassVar[list[str]] = ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    neutral_flags: ClassVar[dict[str, NeutralFlag]] = {
        "quantization.weights": NeutralFlag("quantization", omitted=("none",)),
        "quantization.kv-cache": NeutralFlag("kv-cache-dtype"),
        "quantization.attention": NeutralFlag(
            None, missing="its attention reads the KV cache in the cache's data type; vary quantization.kv-cache"
        ),
        "quantization.moe": NeutralFlag(
            None,
            missing="its MoE layers take the weights' method; vary quantization.weights (moe-backend picks "
            "kernels, not a data type)",
        ),
        "parallelism.tp": NeutralFlag("tensor-parallel-size"),
        "parallelism.pp": NeutralFlag("pipeline-parallel-size"),
        "parallelism.dp": NeutralFlag("data-parallel-size"),
        # vLLM has no expert-parallel size: its switch makes the experts' group the tensor x data parallel ranks.
        "parallelism.ep": NeutralFlag("enable-expert-parallel", switch=True),
    }
    # vLLM picks Marlin kernels for AWQ and GPTQ checkpoints when it can; naming them is also accepted.
    quantized_kernels: ClassVar[dict[str, tuple[str, ...]]] = {
        "awq": ("awq", "awq_marlin"),
        "gptq": ("gptq", "gptq_marlin"),
    }

    shape_flags: ClassVar[ShapeFlags] = ShapeFlags(
        tensor=("tensor-parallel-size", "tp"),
        pipeline=("pipeline-parallel-size", "pp"),
        data=("data-parallel-size", "dp"),
        max_model_len="max-model-len",
        batched_tokens="max-num-batched-tokens",
        memory_fraction="gpu-memory-utilization",
        default_memory_fraction=0.9,  # vLLM's documented default
        expert_switch="enable-expert-parallel",
    )

    def launcher(self) -> list[str]:
        return [self.spec.interpreter, "-m", "vllm.entrypoints.openai.api_server"]

    def server_args(
        self, model: ModelSpec, params: Configuration, host: str, port: int, model_path: str | None = None
    ) -> list[str]:
        argv = [
            "--model", model_path or model.path,
            "--served-model-name", model.name,
            "--host", host,
            "--port", str(port),
        ]  # fmt: skip
        if model.tokenizer:
            argv += ["--tokenizer", model.tokenizer]
        return argv + flag_args(self.parameters(params))

    def env(self) -> dict[str, str]:
        # Model hubs may be unreachable; a local model must never trigger a download attempt.
        return {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}

    def refusal(self, params: Configuration) -> str | None:
        # vLLM's SchedulerConfig checks these at start-up (vllm/config/scheduler.py, 0.32); values the spec leaves
        # to vLLM's platform defaults are not known here, so rules on them are not judged.
        merged = self.parameters(params)
        batched, seqs = merged.get("max-num-batched-tokens"), merged.get("max-num-seqs")
        if batched is not None and seqs is not None and int(batched) < int(seqs):
            return f"vLLM refuses max-num-batched-tokens ({batched}) below max-num-seqs ({seqs})"
        model_len = merged.get("max-model-len")
        chunked_off = merged.get("no-enable-chunked-prefill") is True
        if chunked_off and batched is not None and model_len is not None and int(batched) < int(model_len):
            return (
                f"vLLM refuses max-num-batched-tokens ({batched}) below max-model-len ({model_len}) "
                "when chunked prefill is off"
            )
        active = merged.get("max-num-active-seqs")
        if active is not None and seqs is not None and int(active) > int(seqs):
            return f"vLLM refuses max-num-active-seqs ({active}) above max-num-seqs ({seqs})"
        return self._expert_parallel_refusal(params)

    def _expert_parallel_refusal(self, params: Configuration) -> str | None:
        expert = {**self.spec.args, **params}.get("parallelism.ep")
        if expert is None or int(expert) == 1:
            return None
        merged = self.parameters(params)
        group = _int_param(merged, "tensor-parallel-size", "tp") * _int_param(merged, "data-parallel-size", "dp")
        if group == 1:
            return f"parallelism.ep {expert} needs vLLM's tensor x data parallel size above 1 (it is 1)"
        if int(expert) != group:
            return (
                f"parallelism.ep {expert}: vLLM's expert-parallel size is its tensor x data parallel size ({group}); "
                f"use ep 1 or {group}"
            )
        return None

    def gpu_count(self, params: Configuration) -> int:
        merged = self.parameters(params)
        tensor = _int_param(merged, "tensor-parallel-size", "tp")
        pipeline = _int_param(merged, "pipeline-parallel-size", "pp")
        data = _int_param(merged, "data-parallel-size", "dp")
        return max(1, tensor * pipeline * data)
