"""vLLM: ``python -m vllm.entrypoints.openai.api_server`` with the flags of the installed version."""

from __future__ import annotations

from typing import ClassVar

from deployers.engines._base import EngineAdapter, flag_args
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
        return None

    def gpu_count(self, params: Configuration) -> int:
        merged = self.parameters(params)
        tensor = _int_param(merged, "tensor-parallel-size", "tp")
        pipeline = _int_param(merged, "pipeline-parallel-size", "pp")
        data = _int_param(merged, "data-parallel-size", "dp")
        return max(1, tensor * pipeline * data)
