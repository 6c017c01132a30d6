"""What genai-bench is started with: the levels and traffic of the spec, and an environment without secrets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from benchmarks.genai_bench import genai_bench_command, genai_bench_env
from tuning.spec import BenchmarkSpec, ModelSpec

ENDPOINT = "http://10.0.0.7:8000"
HUB_TOKENIZER = "meta-llama/Llama-3.2-1B-Instruct"
OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def command(spec: BenchmarkSpec, tmp_path: Path, levels: list[int] | None = None) -> list[str]:
    model = ModelSpec(path="/models/tiny-llama")
    return genai_bench_command(ENDPOINT, model, "vllm", spec, tmp_path / "trial-0" / "genai-bench", levels)


def values(argv: list[str], flag: str) -> list[str]:
    """Every value given to ``flag``, in order."""
    return [argv[i + 1] for i, item in enumerate(argv) if item == flag]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without the Hub variables this machine may have set."""
    for name in (*OFFLINE, "HF_TOKEN", "MY_HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- the command -----------------------------------------------------------------------------------------------


def test_each_level_is_one_num_concurrency_and_the_spec_levels_are_the_default(tmp_path: Path) -> None:
    spec = BenchmarkSpec(concurrency=[16, 1, 4], traffic_scenarios=["D(100,100)", "N(60,10)/(40,10)"])

    assert values(command(spec, tmp_path), "--num-concurrency") == ["1", "4", "16"]
    assert values(command(spec, tmp_path, levels=[6]), "--num-concurrency") == ["6"]
    assert values(command(spec, tmp_path), "--traffic-scenario") == ["D(100,100)", "N(60,10)/(40,10)"]


def test_the_traffic_options_reach_genai_bench(tmp_path: Path) -> None:
    spec = BenchmarkSpec(prefix_len=32, warmup_ratio=0.1, cooldown_ratio=0.05, workers=3)

    argv = command(spec, tmp_path)

    assert values(argv, "--prefix-len") == ["32"]
    assert values(argv, "--warmup-ratio") == ["0.1"]
    assert values(argv, "--cooldown-ratio") == ["0.05"]
    assert values(argv, "--num-workers") == ["3"]
    assert "--prefix-ratio" not in argv


def test_load_workers_meet_their_master_on_a_port_of_their_own(tmp_path: Path) -> None:
    """genai-bench's workers default to master port 5557: two trials at once on one machine would share it."""
    spec = BenchmarkSpec(workers=2)

    ports = {values(command(spec, tmp_path), "--master-port")[0] for _ in range(5)}

    assert "5557" not in ports and len(ports) > 1
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", int(ports.pop())))  # free when handed out


def test_unset_traffic_options_are_left_to_genai_bench(tmp_path: Path) -> None:
    argv = command(BenchmarkSpec(), tmp_path)

    for flag in (
        "--prefix-len",
        "--prefix-ratio",
        "--warmup-ratio",
        "--cooldown-ratio",
        "--num-workers",  # 0 workers: the load runs in genai-bench's own process
        "--master-port",
        "--dataset-path",
        "--dataset-prompt-column",
        "--dataset-config",
    ):
        assert flag not in argv


def test_a_prefix_ratio_reaches_genai_bench(tmp_path: Path) -> None:
    assert values(command(BenchmarkSpec(prefix_ratio=0.25), tmp_path), "--prefix-ratio") == ["0.25"]


def test_a_hub_dataset_is_passed_by_its_id_with_its_prompt_column(tmp_path: Path) -> None:
    spec = BenchmarkSpec(dataset={"path": "squad", "prompt_column": "question"})

    argv = command(spec, tmp_path)

    assert values(argv, "--dataset-path") == ["squad"]
    assert values(argv, "--dataset-prompt-column") == ["question"]


def test_a_dataset_config_is_passed_as_such(tmp_path: Path) -> None:
    config = tmp_path / "dataset.json"

    argv = command(BenchmarkSpec(dataset={"config": str(config)}), tmp_path)

    assert values(argv, "--dataset-config") == [str(config)]
    assert "--dataset-path" not in argv


def test_a_local_dataset_gives_genai_bench_a_dataset_path(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hello"}\n')

    assert len(values(command(BenchmarkSpec(dataset=str(prompts)), tmp_path), "--dataset-path")) == 1


# --- the environment -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["MY_API_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "GITHUB_TOKEN", "HF_TOKEN"])
def test_no_secret_of_servetunes_environment_reaches_genai_bench(
    name: str, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(name, "s3cret")
    clean_env.setenv("VLLM_LOGGING_LEVEL", "DEBUG")
    model = ModelSpec(path=str(tmp_path))  # a local tokenizer: no Hub token is needed

    env = genai_bench_env(model, BenchmarkSpec(), "10.0.0.7")

    assert "s3cret" not in env.values()
    assert name not in env
    assert env["VLLM_LOGGING_LEVEL"] == "DEBUG"  # the rest of the environment is kept


def test_a_local_tokenizer_folder_runs_genai_bench_offline(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HF_TOKEN", "hf_s3cret")

    env = genai_bench_env(ModelSpec(path=str(tmp_path)), BenchmarkSpec(), "10.0.0.7")

    assert {name: env.get(name) for name in OFFLINE} == dict.fromkeys(OFFLINE, "1")
    assert "HF_TOKEN" not in env
    assert "10.0.0.7" in env["NO_PROXY"].split(",")


def test_a_local_tokenizer_with_a_local_dataset_stays_offline(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    spec = BenchmarkSpec(dataset=str(tmp_path / "prompts.jsonl"))

    env = genai_bench_env(ModelSpec(path=str(tmp_path)), spec, "127.0.0.1")

    assert env.get("HF_HUB_OFFLINE") == "1"


def test_a_hub_tokenizer_gets_the_token_from_the_named_variable(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MY_HF_TOKEN", "hf_s3cret")
    model = ModelSpec(path=str(tmp_path), tokenizer=HUB_TOKENIZER)

    env = genai_bench_env(model, BenchmarkSpec(hf_token_env="MY_HF_TOKEN"), "127.0.0.1")

    assert env["HF_TOKEN"] == "hf_s3cret"
    assert "MY_HF_TOKEN" not in env
    assert not any(name in env for name in OFFLINE)


def test_a_hub_dataset_needs_the_hub_even_with_a_local_tokenizer(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HF_TOKEN", "hf_s3cret")

    env = genai_bench_env(ModelSpec(path=str(tmp_path)), BenchmarkSpec(dataset="squad"), "127.0.0.1")

    assert not any(name in env for name in OFFLINE)
    assert env["HF_TOKEN"] == "hf_s3cret"


def test_no_token_is_passed_when_the_spec_names_no_variable(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HF_TOKEN", "hf_s3cret")
    model = ModelSpec(path=str(tmp_path), tokenizer=HUB_TOKENIZER)

    env = genai_bench_env(model, BenchmarkSpec(hf_token_env=None), "127.0.0.1")

    assert "HF_TOKEN" not in env
    assert "hf_s3cret" not in env.values()


def test_a_named_token_variable_that_is_unset_passes_no_token(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    model = ModelSpec(path=str(tmp_path), tokenizer=HUB_TOKENIZER)

    env = genai_bench_env(model, BenchmarkSpec(hf_token_env="MY_HF_TOKEN"), "127.0.0.1")

    assert "HF_TOKEN" not in env


def test_a_dataset_config_may_name_a_hub_dataset_so_it_is_not_run_offline(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dataset.json"
    config.write_text('{"source": {"type": "huggingface", "path": "squad", "huggingface_kwargs": {"split": "train"}}}')
    clean_env.setenv("HF_TOKEN", "hf_s3cret")
    tokenizer = tmp_path / "tokenizer"
    tokenizer.mkdir()

    env = genai_bench_env(ModelSpec(path=str(tokenizer)), BenchmarkSpec(dataset={"config": str(config)}), "127.0.0.1")

    assert "HF_DATASETS_OFFLINE" not in env
