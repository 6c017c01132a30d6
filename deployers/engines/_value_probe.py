"""Ask an inference engine whether it takes each of a spec's flag values.

Run by the ENGINE's interpreter, never imported by servetune, like ``_flag_dump.py`` (whose parsers it uses):

    python -I _value_probe.py ENGINE REQUEST.json ANSWER.json

REQUEST.json is a list of ``["--flag", "value as passed"]``; ANSWER.json gets one verdict each, in order: null
when the engine takes the value, else a refusal.

A value is judged twice, as the engine would at start-up: by its own argument parser (the flag's type
function and choices), then, where the engine keeps the flag in a configuration class that loads without a
model or a GPU, by the bounds that class declares on the field (vLLM's pydantic config dataclasses:
``Field(gt=0, le=1)``). A refusal is ``{"by": who refused, "error": their message, "accepts": what the
flag takes, or null}``. Standard library only, apart from the engine itself.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A field check: the parsed value -> (who refused, why), or None when the configuration takes it or cannot judge.
FieldCheck = Callable[[Any], "tuple[str, str] | None"]

# Pydantic's errors for a declared bound. Only these are judged: a type or literal mismatch between what the
# parser made and the field's annotation is no evidence (vLLM's EngineArgs converts some values, such as
# strings to enums, before building its configs), and field validators may need the rest of the config.
_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of"})


def _doc(function: Any) -> str | None:
    """The first paragraph of a custom type function's docstring: what it reads, in the engine's words."""
    if function in (None, int, float, str) or not getattr(function, "__doc__", None):
        return None
    paragraph = " ".join(function.__doc__.strip().split("\n\n")[0].split())
    return paragraph if len(paragraph) <= 200 else paragraph[:197] + "..."


def parse(parser: argparse.ArgumentParser, action: argparse.Action, text: str) -> tuple[Any, dict[str, Any] | None]:
    """(the value the engine's parser makes of ``text``, None) or (None, its refusal)."""
    try:
        return parser._get_values(action, [text]), None
    except argparse.ArgumentError as exc:
        error = exc.message
    except BaseException as exc:  # the engine would stop on it at start-up too
        error = f"{type(exc).__name__}: {exc}"
    return None, {"by": "parser", "error": error, "accepts": _doc(action.type)}


# ---- vLLM: the config dataclasses in vllm.config ----


def _vllm_field(group: str, action: argparse.Action) -> tuple[type, str] | None:
    """The config class and field an action of vLLM's parser fills: its group is titled by the class."""
    import dataclasses

    import vllm.config

    owner = getattr(vllm.config, group, None)
    if owner is None or not hasattr(owner, "__pydantic_fields__"):
        return None
    # OffloadConfig keeps some flags in config dataclasses of its own fields (its uva.cpu_offload_gb).
    nested = [
        f.type for f in dataclasses.fields(owner) if isinstance(f.type, type) and hasattr(f.type, "__pydantic_fields__")
    ]
    for cls in (owner, *nested):
        if action.dest in cls.__pydantic_fields__:
            return cls, action.dest
    return None  # a flag named apart from its field (--kv-cache-dtype): its choices are the parser's


def _vllm_check(cls: type, name: str) -> FieldCheck:
    """The field's declared bounds (``Field(gt=0, le=1)``), checked on the value alone."""
    from typing import Annotated

    import pydantic

    info = cls.__pydantic_fields__[name]  # type: ignore[attr-defined]
    bounded: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    adapter = pydantic.TypeAdapter(bounded)

    def check(value: Any) -> tuple[str, str] | None:
        try:
            adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            for error in exc.errors(include_url=False):
                if error["type"] in _BOUND_ERRORS:
                    return f"{cls.__name__}.{name}", error["msg"]
        except Exception:  # a value pydantic cannot even compare is not this check's to judge
            return None
        return None

    return check


def vllm_checks(parser: argparse.ArgumentParser) -> dict[argparse.Action, FieldCheck]:
    checks = {}
    for group in parser._action_groups:
        for action in group._group_actions:
            found = _vllm_field(group.title or "", action)
            if found is not None:
                try:
                    checks[action] = _vllm_check(*found)
                except Exception:  # a field pydantic cannot rebuild alone stays judged by the parser only
                    continue
    return checks


def sglang_checks(parser: argparse.ArgumentParser) -> dict[argparse.Action, FieldCheck]:
    # ServerArgs has no declared constraints; its checks run while resolving the model and the platform
    # (torch, a GPU), which a parser-only environment cannot do.
    return {}


CHECKS = {"vllm": vllm_checks, "sglang": sglang_checks}


def _is_default(action: argparse.Action, value: Any) -> bool:
    """The engine's own default is taken by definition (vLLM's None stands for "decide later")."""
    try:
        return bool(value == action.default)
    except Exception:
        return False


def judge(
    parser: argparse.ArgumentParser, checks: dict[argparse.Action, FieldCheck], option: str, text: str
) -> dict[str, Any] | None:
    action = parser._option_string_actions.get(option)
    if action is None:
        return {"by": "parser", "error": f"unknown option {option}", "accepts": None}
    value, refusal = parse(parser, action, text)
    if refusal is not None or _is_default(action, value):
        return refusal
    check = checks.get(action)
    found = check(value) if check is not None else None
    return None if found is None else {"by": found[0], "error": found[1], "accepts": None}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in CHECKS:
        print(f"usage: {sys.argv[0]} {{{','.join(CHECKS)}}} REQUEST.json ANSWER.json", file=sys.stderr)
        return 2
    engine, request, answer = argv
    with open(request, encoding="utf-8") as source:
        cases = json.load(source)
    # Engines log while they import; keep stdout clean and the log on stderr, as the dump does.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        parser = runpy.run_path(str(Path(__file__).with_name("_flag_dump.py")))["PARSERS"][engine]()
        checks = CHECKS[engine](parser)
        verdicts = [judge(parser, checks, option, text) for option, text in cases]
    finally:
        sys.stdout = stdout
    with open(answer, "w", encoding="utf-8") as out:
        json.dump(verdicts, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
