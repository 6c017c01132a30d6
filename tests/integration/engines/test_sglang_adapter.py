"""The SGLang adapter: its launch command, what it tells genai-bench and the deployers, and the GPUs a trial takes.

The commands are checked against SGLang's real parser (.venvs/sglang-flags), and the example specs through
`servetune validate`.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from deployers.engines import ENGINES, SglangAdapter, engine_adapter
from tests.support.paths import REPO
from tuning.cli import main
from tuning.search.space import configurations
from tuning.spec import EngineName, EngineSpec, ModelSpec
from tuning.spec.loading import load_spec, spec_from_data

# The session-scoped fixtures of the engines' environments and parser dumps (vllm_flags, sglang_flags, ...).
pytest_plugins = ["tests.support.engine_envs"]  # imported only through this line, so pytest rewrites its asserts
MODEL = ModelSpec(path="/models/tiny-llama", served_name="tiny")


def adapter(**engine) -> SglangAdapter:
    return SglangAdapter(EngineSpec(name="sglang", **engine))


def value_after(argv, flag):
    assert argv.count(flag) == 1, f"{flag} should appear exactly once in {argv}"
    return argv[argv.index(flag) + 1]


def test_sglang_is_a_registered_engine_a_spec_can_name():
    spec = spec_from_data({"name": "unit", "model": {"path": "/m"}, "engine": {"name": "sglang"}})

    assert EngineName("sglang") is spec.engine.name
    assert ENGINES["sglang"] is SglangAdapter
    assert isinstance(engine_adapter(spec.engine), SglangAdapter)


def test_what_genai_bench_and_the_deployers_are_told():
    assert SglangAdapter.api_backend == "sglang"
    assert SglangAdapter.health_path == "/health"
    assert SglangAdapter.container_launcher == ["python3", "-m", "sglang.launch_server"]
    assert adapter().env()["HF_HUB_OFFLINE"] == "1"


def test_command_launches_sglang_from_the_engine_env_serving_the_model(tmp_path):
    venv = tmp_path / "venvs" / "sglang"

    argv = adapter(venv=str(venv)).command(MODEL, {}, "127.0.0.1", 8123)

    assert argv[:3] == [str(venv / "bin" / "python"), "-m", "sglang.launch_server"]
    assert value_after(argv, "--model-path") == "/models/tiny-llama"
    assert value_after(argv, "--served-model-name") == "tiny"
    assert value_after(argv, "--host") == "127.0.0.1"
    assert value_after(argv, "--port") == "8123"
    assert "--tokenizer-path" not in argv
    assert all(type(item) is str for item in argv)


def test_tokenizer_path_is_passed_when_the_model_names_one():
    model = ModelSpec(path="/models/tiny-llama", tokenizer="/models/tokenizer")

    assert value_after(adapter().command(model, {}, "127.0.0.1", 1), "--tokenizer-path") == "/models/tokenizer"


def test_a_container_sees_the_model_under_its_mount():
    argv = adapter().server_args(MODEL, {}, "0.0.0.0", 8000, model_path="/models-in-container/tiny-llama")

    assert value_after(argv, "--model-path") == "/models-in-container/tiny-llama"


def test_flags_are_sglangs_own_names_with_typed_values():
    engine = adapter(args={"context-length": 1024, "enable-torch-compile": True, "disable-radix-cache": False})

    argv = engine.command(MODEL, {"mem-fraction-static": 0.8, "schedule-policy": "lpm"}, "127.0.0.1", 1)

    assert value_after(argv, "--context-length") == "1024"
    assert value_after(argv, "--mem-fraction-static") == "0.8"
    assert value_after(argv, "--schedule-policy") == "lpm"
    position = argv.index("--enable-torch-compile")
    assert position + 1 == len(argv) or argv[position + 1].startswith("--")
    assert not any("disable-radix-cache" in item for item in argv)


@pytest.mark.parametrize(
    ("params", "gpus"),
    [
        ({}, 1),
        ({"tp-size": 2}, 2),
        ({"tensor-parallel-size": 4}, 4),
        ({"tp-size": 2, "dp-size": 2}, 4),
        ({"tp-size": 2, "data-parallel-size": 3}, 6),
        ({"tp-size": 2, "pp-size": 2, "dp-size": 2}, 8),
        ({"tp-size": 2, "pipeline-parallel-size": 2}, 4),
        ({"tp-size": 8, "dp-size": 8, "enable-dp-attention": True}, 8),  # legacy DP attention: dp inside tp
        ({"tp-size": 4, "attn-dp-size": 4}, 4),
    ],
)
def test_gpu_count_multiplies_the_parallel_sizes_under_any_alias(params, gpus):
    assert adapter().gpu_count(params) == gpus


def test_gpu_count_reads_fixed_engine_args_too():
    assert adapter(args={"tp-size": 2}).gpu_count({"dp-size": 2}) == 4


def test_the_parallelism_aliases_the_adapter_reads_are_sglangs_own(sglang_flags):
    # The adapter multiplies these names; each must be a spelling of the flag it stands for in the real parser.
    from deployers.engines._sglang import _DATA, _PIPELINE, _TENSOR

    for names, canonical in ((_TENSOR, "tp-size"), (_PIPELINE, "pp-size"), (_DATA, "dp-size")):
        known = [name for name in names if sglang_flags.lookup(name) is not None]
        assert {sglang_flags.canonical(name) for name in known} == {canonical}
        assert len(known) >= 2
    assert sglang_flags.lookup("enable-dp-attention").kind == "switch"


def test_sglang_parses_every_command_of_the_example_grids(sglang_python):
    """The argv servetune builds for each trial is one SGLang's own parser takes, with the values intended."""
    from tests.support.engine_envs import parse_with_engine

    trials = []
    for name in ("sglang-docker.yaml", "sglang-ome.yaml"):
        spec = load_spec(REPO / "examples" / name)
        engine = engine_adapter(spec.engine)
        trials += [(params, engine.server_args(spec.model, params, "0.0.0.0", 8000)) for params in configurations(spec)]

    verdicts = parse_with_engine(sglang_python, "sglang", [argv for _, argv in trials])

    assert len(verdicts) == len(trials) == 16
    for (params, argv), verdict in zip(trials, verdicts, strict=True):
        assert verdict["ok"], f"{shlex.join(argv)}: {verdict}"
        for name, value in params.items():
            assert verdict["values"][name.replace("-", "_")] == repr(value)


@pytest.mark.parametrize("name", ["sglang-docker.yaml", "sglang-ome.yaml"])
def test_sglang_examples_validate_against_sglangs_parser_and_show_the_first_command(
    name, capsys, sglang_flags, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))  # the Docker example's model folder (under ~) is mounted from here
    spec = load_spec(REPO / "examples" / name)
    if Path(spec.model.path).is_relative_to(tmp_path):
        Path(spec.model.path).mkdir(parents=True)
    first = configurations(spec)[0]

    assert main(["validate", str(REPO / "examples" / name)]) == 0

    out = capsys.readouterr().out
    assert f"engine flags: checked against sglang {sglang_flags.version}" in out
    command = out.split("first trial's engine command (port chosen at deploy time):\n")[1].strip()
    assert "python3 -m sglang.launch_server" in command or "--entrypoint python3" in command
    flags = " ".join(f"--{k} {v}" for k, v in first.items())
    assert command.endswith(flags)
    assert f"--served-model-name {spec.model.name}" in command


def test_sglang_example_deployers_run_the_engine_image():
    docker = load_spec(REPO / "examples" / "sglang-docker.yaml")
    ome = load_spec(REPO / "examples" / "sglang-ome.yaml")

    assert docker.deployer.kind == "docker" and docker.deployer.image.startswith("lmsysorg/sglang:v")
    assert ome.deployer.kind == "ome" and "lmsysorg/sglang:v" in ome.deployer.image
    assert docker.engine.interpreter == str(REPO / ".venvs" / "sglang-flags" / "bin" / "python")
    assert ome.engine.interpreter == str(REPO / ".venvs" / "sglang-flags" / "bin" / "python")
    assert any(slo.hard for slo in docker.slos) and any(slo.hard for slo in ome.slos)


def test_the_quickstart_still_validates_against_vllms_parser(capsys, vllm_flags):
    assert main(["validate", str(REPO / "examples" / "quickstart.yaml")]) == 0

    out = capsys.readouterr().out
    assert f"engine flags: checked against vllm {vllm_flags.version}" in out
    assert "-m vllm.entrypoints.openai.api_server" in out
