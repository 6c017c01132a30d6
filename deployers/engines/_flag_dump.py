"""Dump an inference engine's own command-line parser as JSON.

Run by the ENGINE's interpreter, never imported by servetune (the parser lives in the engine's environment):

    python -I _flag_dump.py ENGINE --version     prints "DISTRIBUTION VERSION" (cheap: imports nothing of the engine)
    python -I _flag_dump.py ENGINE OUT.json      writes the parser's actions to OUT.json

Standard library only, and nothing of servetune: the engine's environment has neither.
Exit status 3 means the engine is not installed in this interpreter.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import sys
from types import ModuleType
from typing import Any

FORMAT = 1
NOT_INSTALLED = 3

# Engine name -> (top-level module, how to build the parser its server uses)
ENGINE_MODULES = {"vllm": "vllm", "sglang": "sglang"}


def _import_first(*names: str) -> ModuleType:
    error: ImportError | None = None
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            error = exc
    raise error or ImportError("no module given")


def vllm_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m vllm.entrypoints.openai.api_server`` (vLLM's own make_arg_parser)."""
    # vLLM moved these between releases; 0.32 has them under entrypoints.launchers and utils.argparse_utils.
    cli_args = _import_first("vllm.entrypoints.launchers.cli_args", "vllm.entrypoints.openai.cli_args")
    utils = _import_first("vllm.utils.argparse_utils", "vllm.utils")
    return cli_args.make_arg_parser(utils.FlexibleArgumentParser())


def sglang_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m sglang.launch_server``: ServerArgs.add_cli_args on a plain ArgumentParser."""
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser()
    ServerArgs.add_cli_args(parser)
    return parser


PARSERS = {"vllm": vllm_parser, "sglang": sglang_parser}


def distribution(engine: str) -> tuple[str, str] | None:
    """(distribution name, version) of the package providing the engine's module, without importing it."""
    module = ENGINE_MODULES[engine]
    names = importlib.metadata.packages_distributions().get(module, [])
    for name in names:
        return name, importlib.metadata.version(name)
    return None


_FAILED = object()


def _probe(function: Any, text: str) -> Any:
    try:
        return function(text)
    except BaseException:  # a type function may raise anything, argparse's own errors included
        return _FAILED


def value_kind(action: argparse.Action) -> str:
    """What the flag's value is, from the parser's own type function: switch, int, float, bool, json, str, other.

    Custom type functions are classified by what they make of sample strings, in this environment.
    """
    if action.nargs == 0:
        return "switch"
    function = action.type
    if function is None or function is str:
        return "str"
    if function is int:
        return "int"
    if function is float:
        return "float"
    if not callable(function):
        return "other"
    seven, half, word = _probe(function, "7"), _probe(function, "0.5"), _probe(function, "abc")
    if isinstance(word, str):
        return "str"
    if word is _FAILED and (_probe(function, "{}") is not _FAILED or isinstance(_probe(function, '["a"]'), list)):
        return "json"  # JSON objects or lists (json.loads, vLLM's config dataclasses)
    if _probe(function, "true") is True and _probe(function, "false") is False:
        return "bool"
    if type(seven) is int and (half is _FAILED or type(half) is int):
        return "int"
    if isinstance(half, float):
        return "float"
    return "other"


def _plain(value: Any) -> Any:
    """A JSON-safe rendering of a default or a choice."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, bool | int | float | str) for v in value):
        return list(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _first_line(text: str | None) -> str:
    for line in (text or "").strip().splitlines():
        if line.strip():
            line = " ".join(line.split())
            return line if len(line) <= 160 else line[:157] + "..."
    return ""


def describe(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    deprecated: set[argparse.Action] = getattr(parser, "_deprecated", set())
    flags = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue  # positionals (vLLM's model_tag) are not flags; --help is not something to tune
        choices = action.choices
        open_choices = choices is not None and not isinstance(choices, list | tuple | set | frozenset | range)
        default = None if action.default is argparse.SUPPRESS else action.default
        flags.append(
            {
                "options": list(action.option_strings),
                "dest": action.dest,
                "action": type(action).__name__,
                "kind": value_kind(action),
                "type": getattr(action.type, "__name__", None) if action.type is not None else None,
                "nargs": action.nargs,
                "choices": None if choices is None else [_plain(c) for c in choices],
                "open_choices": open_choices,
                "default": _plain(default),
                "boolean_optional": isinstance(action, argparse.BooleanOptionalAction),
                "store_false": isinstance(action, argparse._StoreFalseAction),
                "deprecated": bool(
                    action in deprecated
                    or getattr(action, "deprecated", False)
                    or "Deprecated" in type(action).__name__
                ),
                "help": _first_line(action.help if action.help != argparse.SUPPRESS else ""),
            }
        )
    return flags


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in PARSERS:
        print(f"usage: {sys.argv[0]} {{{','.join(PARSERS)}}} (--version | OUT.json)", file=sys.stderr)
        return 2
    engine, target = argv
    found = distribution(engine)
    if found is None:
        print(f"{engine} is not installed for {sys.executable}", file=sys.stderr)
        return NOT_INSTALLED
    if target == "--version":
        print(*found)
        return 0
    # Engines log while they import; keep stdout clean and the log on stderr.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        parser = PARSERS[engine]()
    finally:
        sys.stdout = stdout
    dump = {
        "format": FORMAT,
        "engine": engine,
        "distribution": found[0],
        "version": found[1],
        "python": sys.executable,
        "flags": describe(parser),
    }
    with open(target, "w", encoding="utf-8") as out:
        json.dump(dump, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
