"""Engine-neutral quantization and parallelism dimensions: mapped to each engine's own flags, checked against its
own parser, refused where the engine would refuse them, and restricted by a model that is already quantized."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from deployers.engines import engine_adapter, flag_problems
from deployers.validity import rejection
from tests.support.model_configs import LLAMA_70B
from tuning.cli import main
from tuning.search.space import configurations
from tuning.spec import EngineSpec, TuningSpec
from tuning.spec.loading import SpecError, spec_from_data

pytest_plugins = ["tests.support.engine_envs"]  # imported only through this line, so pytest rewrites its asserts

NEUTRAL_SPACE = {
    "vllm": {
        "quantization.weights": ["none", "fp8"],
        "quantization.kv_cache": ["auto", "fp8_e4m3"],
        "parallelism.tp": [1, 2],
        "parallelism.pp": [1, 2],
        "parallelism.dp": [1, 2],
        "parallelism.ep": [1, 2],
    },
    "sglang": {
        "quantization.weights": ["none", "fp8"],
        "quantization.kv-cache": ["auto", "fp8_e5m2"],
        "quantization.attention": ["auto", "fp8_e4m3"],
        "quantization.moe": ["default", "bf16"],
        "parallelism.tp": [2, 4],
        "parallelism.pp": [1, 2],
        "parallelism.dp": [1, 2],
        "parallelism.ep": [1, 2],
    },
}


def make_spec(engine: str, space: dict, python: str = "python3", model: str = "/models/m", **extra) -> TuningSpec:
    return spec_from_data(
        {
            "name": "neutral",
            "model": {"path": model},
            "engine": {"name": engine, "python": python},
            "search_space": space,
            "hardware": {"gpus_per_node": 64},
            **extra,
        }
    )


@pytest.fixture
def python_for(request: pytest.FixtureRequest):
    return lambda engine: str(request.getfixturevalue(f"{engine}_python"))


@pytest.mark.engine
@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_the_neutral_space_maps_to_flags_the_engines_own_parser_takes(engine: str, python_for) -> None:
    from tests.support.engine_envs import parse_with_engine

    python = python_for(engine)
    spec = make_spec(engine, NEUTRAL_SPACE[engine], python)
    problems, flags, _ = flag_problems(spec)
    assert flags is not None and problems == []
    adapter = engine_adapter(spec.engine)
    configs = configurations(spec)
    argvs = [adapter.server_args(spec.model, params, "127.0.0.1", 8000) for params in configs]
    verdicts = parse_with_engine(python, engine, argvs)
    assert all(v["ok"] for v in verdicts), [v for v in verdicts if not v["ok"]][:3]
    # Every neutral value reached the parser under the engine's own flag: the parsed namespace holds it.
    for params, verdict in zip(configs, verdicts, strict=True):
        parsed = verdict["values"]
        tp_dest = {"vllm": "tensor_parallel_size", "sglang": "tp_size"}[engine]
        assert parsed[tp_dest] == repr(params["parallelism.tp"])
        assert parsed["kv_cache_dtype"] == repr(params["quantization.kv-cache"])
        expected_quantization = None if params["quantization.weights"] == "none" else params["quantization.weights"]
        assert parsed["quantization"] == repr(expected_quantization)


@pytest.mark.engine
@pytest.mark.parametrize(
    ("engine", "dimension", "value", "flag"),
    [
        ("vllm", "quantization.kv-cache", "fp8_e3m4", "kv-cache-dtype"),
        ("sglang", "quantization.kv-cache", "fp8", "kv-cache-dtype"),
    ],
)
def test_a_value_the_installed_engine_lacks_is_refused_naming_the_accepted_ones(
    engine: str, dimension: str, value: str, flag: str, python_for
) -> None:
    python = python_for(engine)
    spec = make_spec(engine, {dimension: ["auto", value]}, python)
    problems, flags, _ = flag_problems(spec)
    assert flags is not None
    [line] = problems
    assert line.startswith(f"search_space.{dimension} (as --{flag}): {value!r} is not a choice")
    accepted = flags.lookup(flag)
    assert accepted is not None and accepted.choices
    assert all(str(choice) in line for choice in accepted.choices)


def test_a_dimension_an_engine_has_no_flag_for_says_what_to_use() -> None:
    spec = make_spec("vllm", {"quantization.attention": ["fp8"], "quantization.moe": ["fp8"]})
    problems = engine_adapter(spec.engine).neutral_problems(spec)
    assert problems[0].startswith("search_space.quantization.attention: vllm has no flag for")
    assert "quantization.kv-cache" in problems[0]
    assert problems[1].startswith("search_space.quantization.moe: vllm has no flag for")


def test_a_neutral_dimension_and_the_flag_it_sets_cannot_both_be_given() -> None:
    spec = make_spec("sglang", {"parallelism.tp": [2], "tp-size": [4]})
    [line] = engine_adapter(spec.engine).neutral_problems(spec)
    assert line == "search_space.parallelism.tp: sets --tp-size, which the spec also sets by that name; keep one"


def test_unknown_or_ill_typed_neutral_dimensions_are_refused_by_the_spec() -> None:
    for space, expected in [
        ({"parallelism.cp": [2]}, "search_space.parallelism.cp: not an engine-neutral dimension; parallelism has"),
        ({"parallelism.tp": [0, 2]}, "search_space.parallelism.tp: a parallel size is a whole number of 1 or more"),
        ({"quantization.weights": [4]}, "search_space.quantization.weights: list the data types or methods"),
    ]:
        with pytest.raises(SpecError) as caught:
            make_spec("vllm", space)
        assert caught.value.problems[0].startswith(expected)


@pytest.mark.parametrize(
    ("engine", "params", "reason"),
    [
        ("vllm", {"parallelism.ep": 2}, "needs vLLM's tensor x data parallel size above 1"),
        ("vllm", {"parallelism.ep": 2, "parallelism.tp": 2, "parallelism.dp": 2}, "use ep 1 or 4"),
        ("vllm", {"parallelism.ep": 4, "parallelism.tp": 2, "parallelism.dp": 2}, None),
        ("sglang", {"parallelism.tp": 2, "parallelism.ep": 4}, "ep-size 4 does not divide"),
        ("sglang", {"parallelism.tp": 4, "parallelism.ep": 2}, None),
        ("sglang", {"parallelism.tp": 4, "parallelism.dp": 3, "enable-dp-attention": True}, "does not divide"),
        ("sglang", {"parallelism.tp": 4, "parallelism.dp": 2, "enable-dp-attention": True}, None),
        ("sglang", {"parallelism.tp": 4, "parallelism.dp": 2, "attn-dp-size": 2}, "together with attn-dp-size 2"),
    ],
)
def test_combinations_the_engine_refuses_are_rejected_before_deployment(engine, params, reason) -> None:
    spec = make_spec(engine, {})
    refused = rejection(spec, params, available=64)
    if reason is None:
        assert refused is None
    else:
        assert refused is not None and reason in refused


def test_the_gpu_count_and_argv_see_the_neutral_sizes() -> None:
    adapter = engine_adapter(EngineSpec(name="sglang"))
    params = {"parallelism.tp": 2, "parallelism.pp": 2, "parallelism.dp": 2, "quantization.weights": "none"}
    assert adapter.gpu_count(params) == 8
    argv = adapter.parameters(params)
    assert argv == {"tp-size": 2, "pp-size": 2, "dp-size": 2}  # `none` leaves --quantization to the model
    assert rejection(make_spec("sglang", {}), params, available=4) is not None


@pytest.fixture
def awq_model(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "quantization_config": {"quant_method": "awq", "bits": 4}})
    )
    return tmp_path


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_an_already_quantized_model_restricts_the_weights_choices(engine: str, awq_model: Path) -> None:
    spec = make_spec(engine, {"quantization.weights": ["none", "awq_marlin", "fp8"]}, model=str(awq_model))
    [line] = engine_adapter(spec.engine).neutral_problems(spec)
    assert line.startswith("search_space.quantization.weights.values[2]: model.path is already quantized with awq")
    assert "not 'fp8'" in line
    fitting = make_spec(engine, {"quantization.weights": ["none", "awq"]}, model=str(awq_model))
    assert engine_adapter(fitting.engine).neutral_problems(fitting) == []


def test_validate_prints_each_neutral_dimensions_engine_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, vllm_python: str
) -> None:
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"name: n\nmodel: {{path: {tmp_path}}}\nengine: {{name: vllm, python: {vllm_python}}}\n"
        "hardware: {gpus_per_node: 4}\n"
        "search_space:\n  quantization.weights: [none, fp8]\n  parallelism.tp: [1, 2]\n  parallelism.ep: [1, 2]\n"
    )
    assert main(["validate", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "engine-neutral dimensions, as vllm flags:\n" in out
    assert "  quantization.weights -> --quantization: none = left out, fp8\n" in out
    assert "  parallelism.tp -> --tensor-parallel-size: 1, 2\n" in out
    assert "  parallelism.ep -> --enable-expert-parallel: 1 = left out, 2 = bare flag\n" in out
    assert "--tensor-parallel-size 1" in out  # the first trial's command


def test_validate_says_which_configurations_cannot_fit_in_gpu_memory_and_refuses_a_space_where_none_can(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 70B model's published config.json (Llama-3.1-70B's fields) on 80 GiB GPUs: tp 1 cannot hold it. The fit
    needs no engine: an interpreter without vLLM leaves the flags unchecked, with a note."""
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_70B))
    spec = tmp_path / "spec.yaml"
    head = (
        f"name: n\nmodel: {{path: {tmp_path}}}\nengine: {{name: vllm, python: {sys.executable}, args: "
        "{max-model-len: 8192}}\nhardware: {gpus_per_node: 8, gpu_memory_gib: 80}\n"
    )
    spec.write_text(head + "search_space:\n  parallelism.tp: [1, 2, 4]\n")
    assert main(["validate", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "memory fit: 1 of 3 configuration(s) cannot fit in 80 GiB per GPU (hardware.gpu_memory_gib)" in out
    assert "parallelism.tp=1 does not fit in GPU memory: needs at least 133.9 GiB per GPU" in out

    spec.write_text(head + "search_space:\n  parallelism.tp: [1]\n  max-num-seqs: [8, 16]\n")
    assert main(["validate", str(spec)]) != 0
    error = capsys.readouterr().err
    assert "hardware.gpu_memory_gib: none of the 2 configuration(s) fits in 80 GiB per GPU" in error
