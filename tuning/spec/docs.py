"""The field reference of ``docs/spec.md``, generated from the spec models so the docs cannot drift.

Regenerate with ``servetune spec-docs > docs/spec.md``; a test fails when the committed file is stale.
"""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from tuning.spec import Dimension, ObjectiveSpec, SLOSpec, TuningSpec

_INTRO = """# The tuning spec

A spec is a YAML (or JSON) file that says which engine and model to tune, what to vary, what load to
apply, and what "best" means. `servetune validate SPEC` checks one and prints the configurations it
would run. Unknown keys are errors, so a misspelt field is reported rather than ignored.

Paths that start with `./` or `../` are taken from the spec file's folder; `~` is your home; anything
else (such as `meta-llama/Llama-3.1-8B-Instruct`) is passed to the engine as written. Engine flags are
written without leading dashes; `max_num_seqs` and `max-num-seqs` are the same flag. A value `true`
becomes a bare `--flag`, `false` leaves the flag out, and numbers and strings are passed as they are.

This page is generated from the spec's models (`servetune spec-docs`). The quickstart,
[`examples/quickstart.yaml`](../examples/quickstart.yaml), shows a complete spec.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(names)) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return getattr(annotation, "__name__", str(annotation)).replace("Strict", "").lower()


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{json.dumps(to_jsonable_python(value))}`"


def _example(field: FieldInfo) -> str:
    return f"`{json.dumps(field.examples[0])}`" if field.examples else ""


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        nested = _nested(field.annotation) or _nested_items(field.annotation)
        description = field.description or (nested.__doc__ if nested else "") or ""
        description = description.replace("\n", " ").replace("|", "\\|")
        rows.append(
            f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} | {description} | {_example(field)} |"
        )
    return rows


def _table(model: type[BaseModel], prefix: str) -> list[str]:
    return ["| field | type | default | meaning | example |", "| --- | --- | --- | --- | --- |", *_rows(model, prefix)]


def _variants(annotation: Any) -> list[type[BaseModel]]:
    """The models of a union tagged by ``kind``, such as ``deployer``."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return []
    return [
        m
        for m in (_nested(typing.get_args(a)[0] if typing.get_args(a) else a) for a in typing.get_args(annotation))
        if m and "kind" in m.model_fields
    ]


def _nested_items(annotation: Any) -> type[BaseModel] | None:
    args = typing.get_args(annotation)
    return _nested(args[-1]) if args else None


def _nested(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def spec_reference() -> str:
    lines = [_INTRO, "## Top level", "", *_table(TuningSpec, ""), ""]
    for name, field in TuningSpec.model_fields.items():
        section = _nested(field.annotation)
        if section is not None:
            lines += [f"## `{name}`", "", (section.__doc__ or "").strip(), "", *_table(section, f"{name}."), ""]
        for variant in _variants(field.annotation):
            kind = typing.get_args(variant.model_fields["kind"].annotation)[0]
            heading = f"## `{name}` with `kind: {kind}`"
            lines += [heading, "", (variant.__doc__ or "").strip(), "", *_table(variant, f"{name}."), ""]
    lines += [
        "## `search_space.<flag>`",
        "",
        "Each entry is an engine flag and either a list of values (`max-num-seqs: [4, 8, 16]`) or a range. "
        "The grid strategy walks lists and ranges with a step; a log range is for samplers that draw values.",
        "",
        *_table(Dimension, "search_space.<flag>."),
        "",
        "## `objectives[]`",
        "",
        (ObjectiveSpec.__doc__ or "").strip()
        + " A metric's name alone stands for it with the defaults: `ttft` is `{metric: ttft}`. One objective may"
        " be written `objective: X`, which is `objectives: [X]`.",
        "",
        *_table(ObjectiveSpec, "objectives[]."),
        "",
        "## `slos[]`",
        "",
        (SLOSpec.__doc__ or "").strip()
        + " Latencies are in seconds. A hard SLO broken in any round makes the configuration infeasible: it"
        " is recorded and shown, never chosen as best. A soft SLO divides a maximized objective (or"
        " multiplies a minimized one) by `1 + penalty x relative excess`, which is 1 at the threshold.",
        "",
        *_table(SLOSpec, "slos[]."),
        "",
    ]
    return "\n".join(lines)
