"""A reviewer's corpus of malformed specs: `servetune validate` refuses every one with exit 2, naming the field.

The corpus is generated from valid base specs: every field of the spec's models, walked recursively, gets one
mutation at a time (a wrong type, a value out of range, an empty or very long value, a misspelt or unknown key, a
bad choice), and a few whole files are broken (not a mapping, not YAML, a key given twice). A mutation is only
ever skipped as valid when the field's type admits it (null where null is allowed), or, for values whose validity
is a matter of the field's limits (zero, negative, huge, empty, long), when the spec's models accept it.
"""

from __future__ import annotations

import copy
import math
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from tuning.cli import main
from tuning.errors import ExitCode
from tuning.spec import DatasetSpec, Dimension, ObjectiveSpec, StrategyName, TuningSpec

# No engine environment: the flags are not read (no subprocess), so validate's answer is the spec's alone.
NO_PYTHON = "/nonexistent/servetune-malformed/bin/python"

DOCKER_BASE: dict[str, Any] = {
    "name": "malformed-docker",
    "description": "the base of the malformed-spec corpus",
    "model": {"path": "org/tiny-model", "tokenizer": "org/tiny-tokenizer", "served_name": "tiny"},
    "engine": {
        "name": "vllm",
        "python": NO_PYTHON,
        "args": {"max-model-len": 1024, "enforce-eager": True},
        "env": {"VLLM_CPU_KVCACHE_SPACE": "1"},
        "pass_env": ["HF_TOKEN"],
    },
    "deployer": {
        "kind": "docker",
        "image": "vllm/vllm-openai:v0.11.0",
        "pull": "missing",
        "docker_host": "unix:///run/docker.sock",
        "network": "bridge",
        "container_port": 8000,
        "shm_size": "16g",
        "ipc_mode": "private",
        "model_mount": "/models",
        "stop_grace": 30,
    },
    "search_space": {
        "max-num-seqs": {"values": [1, 8]},
        "max-num-batched-tokens": {"low": 256, "high": 1024, "step": 256, "log": False},
    },
    "strategy": {"name": "grid", "max_trials": 4, "seed": 0, "parallelism": 1, "pruner": "none"},
    "hardware": {"gpus_per_node": 1, "gpu_hour_price": 2.5},
    "confirmation": {"top": 1, "repeats": 1},
    "benchmark": {
        "task": "text-to-text",
        "traffic_scenarios": ["D(100,100)"],
        "mode": "levels",
        "concurrency": [1, 4],
        "dataset": {"path": "org/prompts", "prompt_column": "text"},
        "prefix_len": 10,
        "warmup_ratio": 0.1,
        "cooldown_ratio": 0.1,
        "hf_token_env": "HF_TOKEN",
        "workers": 0,
        "max_time_per_run": 1,
        "max_requests_per_run": 16,
        "extra_request_params": {"ignore_eos": True},
    },
    "objective": {"metric": "output_throughput", "statistic": "p90", "aggregate": "mean"},
    "slos": [{"metric": "ttft", "statistic": "p90", "max": 2.0, "hard": True, "penalty": 1.0}],
    "timeouts": {"deploy": 60, "ready": 300, "benchmark": 600, "trial": 1200},
    "regression": {"threshold": 0.05, "baseline": "best", "window": 5},
}

# The fields the Docker base cannot hold beside its own: OME, a dataset config, several objectives, a venv.
OME_BASE: dict[str, Any] = {
    "name": "malformed-ome",
    "model": {"path": "org/tiny-model"},
    "engine": {"name": "sglang", "venv": "/nonexistent/servetune-malformed"},
    "deployer": {
        "kind": "ome",
        "namespace": "tuning",
        "base_model": "tiny-model",
        "serving_runtime": "tiny-runtime",
        "kubeconfig": "/nonexistent/kubeconfig",
        "context": "lab",
        "in_cluster": False,
        "image": "lmsysorg/sglang:v0.5.3",
        "command": ["python3", "-m", "sglang.launch_server"],
        "container_name": "ome-container",
        "port": 8080,
        "service_port": 8080,
        "gpu_resource": "nvidia.com/gpu",
        "poll_interval": 2.0,
        "delete_timeout": 300.0,
    },
    "search_space": {"mem-fraction-static": [0.8, 0.9]},
    "strategy": {"name": "tpe", "max_trials": 4, "seed": 1, "parallelism": 2, "pruner": "none"},
    "benchmark": {
        "traffic_scenarios": ["D(100,100)"],
        "concurrency": [1],
        "dataset": {"config": "./dataset-config.json"},
        "prefix_ratio": 0.5,
    },
    "objectives": ["output_throughput_per_gpu", {"metric": "ttft", "statistic": "p90", "aggregate": "worst"}],
    "pick": {"best": "output_throughput_per_gpu", "limits": {"ttft_p90": 1.0}},
    "slos": [{"metric": "error_rate", "max": 0.0}],
}

LOCAL_BASE: dict[str, Any] = {
    "name": "malformed-local",
    "model": {"path": "org/tiny-model"},
    "engine": {"python": NO_PYTHON},
    "deployer": {"kind": "local", "host": "127.0.0.1", "stop_grace": 15},
}

# Each base, and the sections whose fields are mutated from it (the rest are mutated from the Docker base).
BASES: dict[str, tuple[dict[str, Any], tuple[str, ...] | None]] = {
    "docker": (DOCKER_BASE, None),
    "ome": (OME_BASE, ("engine", "deployer", "strategy", "benchmark", "objectives", "pick")),
    "local": (LOCAL_BASE, ("deployer",)),
}

LONG = "x" * 10_000
# Forms a model also accepts besides a mapping: `dataset: ./prompts.jsonl`, `objective: ttft`, `max-num-seqs: [1, 2]`.
SHORTHANDS: dict[type, set[str]] = {DatasetSpec: {"str"}, ObjectiveSpec: {"str"}, Dimension: {"list"}}
FIELD_SHORTHANDS: dict[tuple[str | int, ...], set[str]] = {
    ("benchmark", "traffic_scenarios"): {"str"},
    ("objectives",): {"str"},
}


Loc = tuple[str | int, ...]


def dotted(path: Loc) -> str:
    """A field's location as validate writes it: ``slos[0].max``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class Case:
    id: str
    data: Any
    path: Loc = ()  # the field the refusal must name
    semantic: bool = False  # zero, negative, huge, empty or long: malformed only if the models say so


def _kinds(annotation: Any) -> set[str]:
    """What YAML values a field's type admits: 'null', 'bool', 'int', 'float', 'str', 'list', 'dict', or all."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _kinds(args[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(a) for a in args))
    if origin is typing.Literal:
        return {"str"}
    if origin is list:
        return {"list"}
    if origin is dict:
        return {"dict"}
    if annotation is type(None):
        return {"null"}
    if annotation is Any:
        return {"null", "bool", "int", "float", "str", "list", "dict"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"dict"} | SHORTHANDS.get(annotation, set())
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return {"str"}
    return {bool: {"bool"}, int: {"int"}, float: {"int", "float"}, str: {"str"}}[annotation]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    for kind, types_ in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", list)):
        if isinstance(value, types_):
            return kind
    return "dict"


def _element(annotation: Any) -> Any:
    """The item type of a list or the value type of a dict field (through Optional and Annotated)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _element(args[0])
    if origin in (typing.Union, types.UnionType):
        return next(_element(a) for a in args if a is not type(None))
    return args[-1]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The section model of a field (through Optional and Annotated), not of its items."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_of(args[0])
    if origin in (typing.Union, types.UnionType):
        return next((m for a in args if (m := _model_of(a)) is not None), None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _set(data: dict[str, Any], path: Loc, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    node: Any = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return changed


def _rename(data: dict[str, Any], path: Loc, new: str) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    node: Any = changed
    for part in path[:-1]:
        node = node[part]
    node[new] = node.pop(path[-1])
    return changed


def _misspellings(key: str) -> list[str]:
    doubled = key[:2] + key[1:]  # "name" -> "naame": a stuck key
    return [doubled] + ([key.replace("_", "-")] if "_" in key else [key.upper()])


def _value_mutations(kinds: set[str], current: Any, is_enum: bool) -> Iterator[tuple[str, Any, bool]]:
    """(label, value, semantic) for one field of the given kinds."""
    numeric = kinds & {"int", "float"} and not kinds & {"str"}
    wrong_types = {
        "str": ("string", "lots"),
        "int": ("number", 12345),
        "list": ("list", [1, 2]),
        "dict": ("mapping", {"a": 1}),
        "bool": ("boolean", True),
        "null": ("null", None),
    }
    for kind, (label, value) in wrong_types.items():
        if kind == "int" and kinds & {"float"}:
            continue
        if kind not in kinds:
            yield label, value, False
    if numeric:
        yield "nan", math.nan, False
        yield "inf", math.inf, False
        yield "minus-inf", -math.inf, False
        yield "false", False, False
        for label, value in (("negative", -1), ("zero", 0), ("huge", 10**30 if "float" not in kinds else 1e300)):
            yield label, value, True
    if "str" in kinds and not numeric:
        yield "empty", "", True
        yield "blank", "   ", True
        yield "long", LONG, not is_enum
        if is_enum:
            yield "bad-choice", "no-such-choice", False
    if "list" in kinds:
        yield "empty-list", [], True
    if "dict" in kinds and isinstance(current, dict):
        yield "empty-mapping", {}, True


def _field_cases(
    base: str, data: dict[str, Any], model: type[BaseModel], path: Loc, node: dict[str, Any]
) -> Iterator[Case]:
    """Every mutation of one section's fields, and of the sections, lists and mappings inside it."""
    unknown = (*path, "bogus_field")
    yield Case(f"{base}:{dotted(unknown)}", _set(data, unknown, 1), unknown)
    for name, field in model.model_fields.items():
        key = field.alias or name
        field_path = (*path, key)
        for typo in _misspellings(key) if key in node else _misspellings(key)[:1]:
            changed = _rename(data, field_path, typo) if key in node else _set(data, (*path, typo), 1)
            yield Case(f"{base}:{dotted(field_path)}~{typo}", changed, (*path, typo))
        kinds = _kinds(field.annotation) | FIELD_SHORTHANDS.get(field_path, set())
        is_enum = any(
            (isinstance(a, type) and issubclass(a, Enum)) or typing.get_origin(a) is typing.Literal
            for a in [field.annotation, *typing.get_args(field.annotation)]
        )
        current = node.get(key)
        for label, value, semantic in _value_mutations(kinds, current, is_enum):
            yield Case(f"{base}:{dotted(field_path)}={label}", _set(data, field_path, value), field_path, semantic)
        yield from _inner_cases(base, data, field.annotation, field_path, current)


# Item and mapping-value mutations: the type-wrong ones, and a few of the out-of-range ones.
_ITEM_LABELS = {"list", "mapping", "null", "string", "number", "nan", "negative", "zero", "empty", "long"}


def _inner_cases(base: str, data: dict[str, Any], annotation: Any, path: Loc, current: Any) -> Iterator[Case]:
    """Mutations inside a section, a list's first item, or a mapping's first entry and key."""
    model = _model_of(annotation)
    if model is not None and isinstance(current, dict) and typing.get_origin(annotation) not in (list, dict):
        yield from _field_cases(base, data, model, path, current)
        return
    if isinstance(current, list) and current:
        item = _element(annotation)
        if (item_model := _model_of(item)) is not None and isinstance(current[0], dict):
            yield from _field_cases(base, data, item_model, (*path, 0), current[0])
            return
        for label, value, semantic in _value_mutations(_kinds(item), current[0], False):
            if label in _ITEM_LABELS:
                yield Case(f"{base}:{dotted((*path, 0))}={label}", _set(data, (*path, 0), value), path, semantic)
    value_type = _element(annotation) if typing.get_origin(annotation) is dict else Any
    if isinstance(current, dict) and current and model is None and value_type is not Any:  # Any: request fields
        entry = next(iter(current))
        for bad_key in ("--" + entry.lstrip("-"), "bad key!", entry.replace("-", "_") + "_"):
            # A trailing '_' is a different flag, variable or objective: only the models can say if it is wrong.
            changed = _set(data, (*path, bad_key), current[entry])
            yield Case(f"{base}:{dotted(path)}[{bad_key!r}]", changed, path, semantic=bad_key.endswith("_"))
        if (value_model := _model_of(value_type)) is not None and isinstance(current[entry], dict):
            yield from _field_cases(base, data, value_model, (*path, entry), current[entry])
            return
        for label, value, semantic in _value_mutations(_kinds(value_type), current[entry], False):
            if label in _ITEM_LABELS - {"negative", "zero"}:
                entry_path = (*path, entry)
                yield Case(f"{base}:{dotted(entry_path)}={label}", _set(data, entry_path, value), entry_path, semantic)


def field_cases() -> list[Case]:
    cases: list[Case] = []
    for base, (data, sections) in BASES.items():
        for case in _field_cases(base, data, TuningSpec, (), data):
            if sections is None or (case.path and case.path[0] in sections):
                cases.append(case)
    return cases


BROKEN_FILES = {
    "a-list": "- name: a\n- model: {path: /m}\n",
    "a-scalar": "just some words\n",
    "a-number": "42\n",
    "empty": "",
    "only-a-comment": "# nothing here\n",
    "null-document": "~\n",
    "unclosed-bracket": "name: a\nmodel: {path: /m\n",
    "bad-indentation": "name: a\nmodel:\n  path: /m\n   tokenizer: /t\n",
    "tab-indented": "name: a\nmodel:\n\tpath: /m\n",
    "duplicate-top-key": "name: a\nmodel: {path: /m}\nname: b\n",
    "duplicate-nested-key": "name: a\nmodel: {path: /m, path: /n}\n",
    "two-documents": "name: a\n---\nname: b\n",
    "python-tag": "name: !!python/object/apply:os.system ['true']\nmodel: {path: /m}\n",
    "binary": "\x00\x01\x02 not text",
    "long-line-of-junk": "name: [" + "x, " * 5000 + "\n",
    "json-syntax.json": '{"name": "a", "model": {"path": "/m"},}',
    "json-list.json": '[{"name": "a"}]',
    "json-empty.json": "",
}


def _is_valid(case: Case, base_dir: Path) -> bool:
    try:
        TuningSpec.model_validate(case.data, context={"base_dir": base_dir})
    except ValidationError:
        return False
    return True


def _run_validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int | str, str]:
    try:
        code: int | str = main(["validate", str(path)])
    except Exception as exc:  # a crash is what this test looks for
        code = f"raised {type(exc).__name__}: {str(exc)[:200]}"
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _names_field(output: str, case: Case) -> bool:
    """The field's dotted path, or its key beside the path of its section (for a section's own rule)."""
    if dotted(case.path) in output:
        return True
    key = [part for part in case.path if isinstance(part, str)][-1]
    parent = dotted(case.path[: case.path.index(key)])
    named = re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", output) is not None
    return named and parent.split("[")[0] in output


def _problems(case: Case, code: int | str, output: str, check_field: bool = True) -> list[str]:
    problems = []
    if code != ExitCode.bad_input:
        problems.append(f"exit {code}")
    if "Traceback" in output:
        problems.append("traceback")
    if check_field and case.path and not _names_field(output, case):
        problems.append(f"does not name {dotted(case.path)}")
    if (longest := max((len(line) for line in output.splitlines()), default=0)) > 400:
        problems.append(f"a line of {longest} characters")
    return problems


@pytest.fixture
def validate_in(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    (tmp_path / "dataset-config.json").write_text('{"source": {"type": "file", "path": "prompts.txt"}}')

    def run(text: str, name: str = "spec.yaml") -> tuple[int | str, str]:
        path = tmp_path / name
        path.write_text(text)
        return _run_validate(path, capsys)

    return run


def test_the_base_specs_are_valid(validate_in: Any, tmp_path: Path) -> None:
    """Each malformed spec is one mutation away from a valid one, so its refusal is the mutation's."""
    for name, (data, _) in BASES.items():
        assert _is_valid(Case(name, data), tmp_path), name
        if name != "local":  # the local deployer also wants its (absent) interpreter on this machine
            code, output = validate_in(yaml.safe_dump(data, sort_keys=False))
            assert code == ExitCode.ok, output


def test_every_malformed_spec_is_refused_with_exit_2_naming_the_field(validate_in: Any, tmp_path: Path) -> None:
    cases = [c for c in field_cases() if not (c.semantic and _is_valid(c, tmp_path))]
    failures = []
    for case in cases:
        code, output = validate_in(yaml.safe_dump(case.data, sort_keys=False, width=10**9))
        if problems := _problems(case, code, output):
            failures.append(f"{case.id}: {', '.join(problems)}\n    {output.strip()[:300]!r}")
    assert len(cases) >= 300, f"only {len(cases)} malformed specs were generated"
    passed = len(cases) - len(failures)
    assert not failures, f"{passed}/{len(cases)} refused as they should be; failures:\n" + "\n".join(failures)


@pytest.mark.parametrize("name", list(BROKEN_FILES))
def test_a_file_that_is_not_a_spec_is_refused_without_a_traceback(validate_in: Any, name: str) -> None:
    code, output = validate_in(BROKEN_FILES[name], "spec.json" if name.endswith(".json") else "spec.yaml")

    assert _problems(Case(name, None), code, output) == []
    assert "line" in output or "(top level)" in output, output


def test_a_setting_the_sampler_itself_refuses_is_a_refusal_naming_strategy(
    validate_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spec's models cannot know every limit of Optuna's samplers; validate must not crash on one they miss."""
    from tuning.search.samplers import SAMPLERS

    def refuse(strategy: Any) -> Any:
        raise ValueError("Seed must be between 0 and 2**32 - 1")

    monkeypatch.setitem(SAMPLERS, StrategyName.tpe, refuse)

    code, output = validate_in(yaml.safe_dump(OME_BASE, sort_keys=False))

    assert code == ExitCode.bad_input and "Traceback" not in output
    assert "strategy: Seed must be between 0 and 2**32 - 1" in output
