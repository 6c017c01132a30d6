"""Whether a configuration can fit in GPU memory, judged from the model's ``config.json`` before any engine starts.

An engine needs, on each GPU: its share of the weights, room in the KV cache for at least one sequence of the
longest length it serves (vLLM and SGLang both refuse to start otherwise), and the activations of its largest
batch. This module adds up a *lower bound* of those three, so it only turns away configurations that cannot
fit whatever the engine's overheads (CUDA graphs, the CUDA context, fragmentation) turn out to be:

- weights: the model's parameters (embeddings, attention, dense MLP or experts) at the bytes per weight of the
  dtype or quantization the configuration serves them in, split over the tensor x pipeline ranks (experts over
  the expert-parallel ranks when the engine splits them so);
- KV cache: keys and values of every layer of a pipeline stage for ``max_model_len`` tokens, the KV heads split
  over the tensor ranks (replicated once there are more ranks than heads); an MLA model (DeepSeek) caches its
  compressed latent instead;
- activations: the MLP's gate and up projections for the largest batch of tokens one step runs.

The engine may use ``memory_fraction`` of each GPU's memory (``gpu-memory-utilization``,
``mem-fraction-static``). A configuration whose lower bound exceeds that is rejected with every term named.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

GIB = 1024**3

# Bytes per value of the dtypes and quantizations a serving flag or a config.json names; unknown ones are not
# judged (the configuration is not rejected on a guess).
DTYPE_BYTES: dict[str, float] = {
    "float32": 4,
    "float": 4,
    "bfloat16": 2,
    "float16": 2,
    "half": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
    "int8": 1,
    "w8a8_int8": 1,
    "w8a8_fp8": 1,
    "awq": 0.5,
    "awq_marlin": 0.5,
    "gptq": 0.5,
    "gptq_marlin": 0.5,
    "mxfp4": 0.5,
    "nvfp4": 0.5,
    "modelopt_fp4": 0.5,
}


@dataclass(frozen=True)
class ModelShape:
    """What ``config.json`` says about the model's size."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied_embeddings: bool
    dtype_bytes: float | None  # the checkpoint's own dtype (or its quantization), None when not known
    max_positions: int | None
    experts: int = 0
    experts_per_token: int = 0
    expert_intermediate: int = 0
    shared_experts: int = 0
    dense_layers: int = 0  # leading layers of a MoE model with a dense MLP (DeepSeek's first_k_dense_replace)
    kv_latent: int = 0  # an MLA model's cached latent per token and layer (kv_lora_rank + qk_rope_head_dim)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """From a Hugging Face ``config.json`` (a multimodal one's ``text_config``); KeyError names what is missing."""
        config = config.get("text_config", config)
        hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
        experts = config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts")
        quantized = (config.get("quantization_config") or {}).get("quant_method")
        dtype = str(quantized or config.get("torch_dtype") or config.get("dtype") or "")
        latent = config.get("kv_lora_rank")
        return cls(
            hidden=hidden,
            layers=int(config["num_hidden_layers"]),
            heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or hidden // heads),
            intermediate=int(config["intermediate_size"]),
            vocab=int(config["vocab_size"]),
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
            dtype_bytes=DTYPE_BYTES.get(dtype),
            max_positions=config.get("max_position_embeddings"),
            experts=int(experts or 0),
            experts_per_token=int(config.get("num_experts_per_tok") or 0),
            expert_intermediate=int(config.get("moe_intermediate_size") or config["intermediate_size"]),
            shared_experts=int(config.get("n_shared_experts") or 0),
            dense_layers=int(config.get("first_k_dense_replace") or 0) if experts else 0,
            kv_latent=int(latent) + int(config.get("qk_rope_head_dim") or 0) if latent else 0,
        )

    def attention_parameters(self) -> int:
        query_out = self.heads * self.head_dim
        return 2 * self.hidden * query_out + 2 * self.hidden * self.kv_heads * self.head_dim

    def expert_parameters(self) -> int:
        """The routed experts' parameters over every MoE layer (0 for a dense model)."""
        if not self.experts:
            return 0
        return (self.layers - self.dense_layers) * self.experts * 3 * self.hidden * self.expert_intermediate

    def other_parameters(self) -> int:
        """Every parameter but the routed experts': embeddings, attention, dense and shared MLPs."""
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        dense = (self.dense_layers if self.experts else self.layers) * 3 * self.hidden * self.intermediate
        shared = (self.layers - self.dense_layers) * self.shared_experts * 3 * self.hidden * self.expert_intermediate
        return embeddings + self.layers * self.attention_parameters() + dense + shared


@dataclass(frozen=True)
class ServingShape:
    """How a configuration asks the engine to hold the model: read from its flags by the engine's adapter."""

    tensor: int = 1
    pipeline: int = 1
    expert_split: int | None = None  # ranks the routed experts are split over; None: the tensor ranks
    weight_bytes: float | None = None  # the weights' quantization flag; None: the checkpoint's quantization, else
    # the compute dtype
    kv_bytes: float | None = None  # the KV cache's dtype flag; None: the compute dtype
    activation_bytes: float | None = None  # the engine's dtype flag; None: 16 bits
    max_model_len: int | None = None  # None: the model's max_position_embeddings
    batched_tokens: int | None = None  # tokens of the largest step; None: activations are not counted
    memory_fraction: float = 0.9


@dataclass(frozen=True)
class MemoryNeed:
    """The lower bound of one GPU's memory a configuration needs, by term, in bytes."""

    weights: float
    kv_cache: float
    activations: float
    max_model_len: int

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.activations


def memory_need(model: ModelShape, serving: ServingShape) -> MemoryNeed | None:
    """One GPU's lower bound; None when the dtype of the weights or the longest sequence is not known."""
    length = serving.max_model_len or model.max_positions
    quantized = model.dtype_bytes is not None and model.dtype_bytes < 2
    if not length or (model.dtype_bytes is None and serving.weight_bytes is None):
        return None
    # Engines compute in 16 bits unless told otherwise (vLLM's dtype auto serves a float32 checkpoint in 16 too).
    compute_bytes = serving.activation_bytes or 2.0
    weight_bytes = serving.weight_bytes or (model.dtype_bytes if quantized and model.dtype_bytes else compute_bytes)
    ranks = serving.tensor * serving.pipeline
    weights = weight_bytes * (
        model.other_parameters() / ranks
        + model.expert_parameters() / ((serving.expert_split or serving.tensor) * serving.pipeline)
    )
    stage_layers = math.ceil(model.layers / serving.pipeline)
    kv_bytes = serving.kv_bytes or compute_bytes
    if model.kv_latent:
        per_token = stage_layers * model.kv_latent * kv_bytes
    else:
        per_token = 2 * stage_layers * math.ceil(model.kv_heads / serving.tensor) * model.head_dim * kv_bytes
    activations = 0.0
    if serving.batched_tokens:
        width = max(model.intermediate, model.experts_per_token * model.expert_intermediate)
        activations = serving.batched_tokens * 2 * width / serving.tensor * compute_bytes
    return MemoryNeed(weights, per_token * length, activations, int(length))


def misfit(model: ModelShape, serving: ServingShape, gpu_memory_gib: float) -> str | None:
    """Why the configuration cannot fit in one GPU of ``gpu_memory_gib``; None if it may (or cannot be judged)."""
    need = memory_need(model, serving)
    if need is None:
        return None
    budget = gpu_memory_gib * GIB * serving.memory_fraction
    if need.total <= budget:
        return None
    return (
        f"does not fit in GPU memory: needs at least {need.total / GIB:.1f} GiB per GPU (weights "
        f"{need.weights / GIB:.1f}, KV cache for one {need.max_model_len}-token sequence {need.kv_cache / GIB:.1f}, "
        f"activations {need.activations / GIB:.1f}) but {serving.memory_fraction:g} of "
        f"hardware.gpu_memory_gib {gpu_memory_gib:g} is {budget / GIB:.1f} GiB"
    )


@lru_cache(maxsize=8)
def model_shape(model_path: str) -> ModelShape | None:
    """The shape of the model in the local folder ``model_path``; None when it has no readable, complete
    ``config.json`` (a Hugging Face id, say): the memory fit is then not judged."""
    path = Path(model_path).expanduser() / "config.json"
    try:
        return ModelShape.from_config(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
