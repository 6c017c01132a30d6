"""The memory fit: a configuration that cannot fit in a GPU is rejected before any engine starts.

The model shapes are published ``config.json`` fields of real models (``tests.support.model_configs``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployers.engines import engine_adapter
from deployers.validity import rejection
from tests.support.factories import make_spec
from tests.support.model_configs import DEEPSEEK_V3, LLAMA_70B, MIXTRAL
from tuning.evaluation.memory_fit import ModelShape, ServingShape, memory_need, misfit, model_shape
from tuning.spec import EngineSpec


def _parameters(shape: ModelShape) -> float:
    return shape.other_parameters() + shape.expert_parameters()


@pytest.mark.parametrize(("config", "published"), [(LLAMA_70B, 70.6e9), (MIXTRAL, 46.7e9), (DEEPSEEK_V3, 671e9)])
def test_the_parameters_counted_from_config_json_are_the_published_size(config: dict, published: float) -> None:
    # MLA's low-rank attention projections are counted as full ones, so DeepSeek's count is looser.
    assert _parameters(ModelShape.from_config(config)) == pytest.approx(published, rel=0.04)


def test_a_70b_model_needs_tensor_parallelism_and_its_full_context_needs_room_for_the_kv_cache() -> None:
    model = ModelShape.from_config(LLAMA_70B)
    one = misfit(model, ServingShape(tensor=1, max_model_len=8192), 80)
    assert one is not None and "needs at least 133.9 GiB" in one and "0.9 of hardware.gpu_memory_gib 80 is 72.0" in one
    assert misfit(model, ServingShape(tensor=2, max_model_len=8192), 80) is None
    # The model's own 131072-token context: the KV cache of one sequence (20 GiB per GPU at tp 2) no longer fits.
    full = misfit(model, ServingShape(tensor=2), 80)
    assert full is not None and "KV cache for one 131072-token sequence 20.0" in full
    assert misfit(model, ServingShape(tensor=2, kv_bytes=1, max_model_len=65536), 80) is None  # fp8: half the bytes
    assert misfit(model, ServingShape(tensor=1, weight_bytes=1, max_model_len=8192), 80) is None  # fp8 weights


def test_expert_parallelism_splits_the_experts_and_a_larger_batch_needs_more_activations() -> None:
    model = ModelShape.from_config(MIXTRAL)
    tp2 = memory_need(model, ServingShape(tensor=2, max_model_len=4096))
    ep4 = memory_need(model, ServingShape(tensor=2, expert_split=4, max_model_len=4096))
    assert tp2 is not None and ep4 is not None
    assert ep4.weights < tp2.weights and ep4.kv_cache == tp2.kv_cache
    small = memory_need(model, ServingShape(tensor=2, max_model_len=4096, batched_tokens=2048))
    large = memory_need(model, ServingShape(tensor=2, max_model_len=4096, batched_tokens=16384))
    assert small is not None and large is not None and large.activations == 8 * small.activations > 0


def test_an_mla_model_caches_its_latent_whatever_the_tensor_size() -> None:
    model = ModelShape.from_config(DEEPSEEK_V3)
    tp8 = memory_need(model, ServingShape(tensor=8, max_model_len=4096))
    assert tp8 is not None and tp8.kv_cache == 61 * (512 + 64) * 2 * 4096
    assert tp8.weights == pytest.approx(1 * _parameters(model) / 8)  # fp8 checkpoint: one byte per weight
    assert misfit(model, ServingShape(tensor=8, max_model_len=4096), 80) is not None  # 671B in fp8 > 8 x 72 GiB
    assert misfit(model, ServingShape(tensor=8, max_model_len=4096), 141) is None  # an 8 x H200 node


def test_what_cannot_be_judged_is_not_rejected(tmp_path: Path) -> None:
    no_dtype = {k: v for k, v in LLAMA_70B.items() if k != "torch_dtype"}
    assert memory_need(ModelShape.from_config(no_dtype), ServingShape()) is None
    assert model_shape(str(tmp_path / "absent")) is None
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')  # incomplete
    assert model_shape(str(tmp_path)) is None


def _model_folder(tmp_path: Path, config: dict) -> str:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


@pytest.mark.parametrize(
    ("engine", "tensor_flag", "length_flag"),
    [("vllm", "tensor-parallel-size", "max-model-len"), ("sglang", "tp-size", "context-length")],
)
def test_rejection_reads_each_engines_flags_and_the_models_config(
    tmp_path: Path, engine: str, tensor_flag: str, length_flag: str
) -> None:
    path = _model_folder(tmp_path, LLAMA_70B)
    spec = make_spec(
        model={"path": path},
        engine={"name": engine, "args": {length_flag: 8192}},
        search_space={"parallelism.tp": [1, 2, 4]},
        hardware={"gpu_memory_gib": 80},
    )
    why = rejection(spec, {"parallelism.tp": 1}, 8)
    assert why is not None and why.startswith("does not fit in GPU memory: needs at least 13")
    assert rejection(spec, {"parallelism.tp": 2}, 8) is None
    shape = engine_adapter(spec.engine).serving_shape({tensor_flag: 4})
    assert (shape.tensor, shape.max_model_len) == (4, 8192)
    unset = spec.model_copy(update={"hardware": spec.hardware.model_copy(update={"gpu_memory_gib": None})})
    assert rejection(unset, {"parallelism.tp": 1}, 8) is None  # no GPU memory given: not judged


def test_vllm_expert_parallel_splits_the_experts_over_tensor_times_data_ranks() -> None:
    vllm = engine_adapter(EngineSpec(name="vllm"))
    shape = vllm.serving_shape({"tensor-parallel-size": 2, "data-parallel-size": 4, "enable-expert-parallel": True})
    assert (shape.tensor, shape.expert_split) == (2, 8)
    assert vllm.serving_shape({"tensor-parallel-size": 2}).expert_split is None  # the experts follow the tensor ranks
    assert vllm.serving_shape({"tensor-parallel-size": 2, "gpu-memory-utilization": 0.8}).memory_fraction == 0.8
    sglang = engine_adapter(EngineSpec(name="sglang"))
    assert sglang.serving_shape({"tp-size": 4, "ep-size": 4, "kv-cache-dtype": "fp8_e5m2"}).kv_bytes == 1
