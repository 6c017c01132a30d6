"""Reading a spec file, and turning validation errors into messages a user can act on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tuning.errors import UserInputError
from tuning.spec import TuningSpec


class InvalidFile(UserInputError):
    """An input file that cannot be used; ``problems`` holds one line per problem, each naming its field."""

    kind = "file"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid {self.kind}\n" + "\n".join(f"  {p}" for p in problems))


class SpecError(InvalidFile):
    kind = "spec"


# A validator's message that starts with a field path ("job_variables.env.X: ...") continues the location.
_SUBFIELD = re.compile(r"^((?:\[\d+\]|[A-Za-z_])[\w.\[\]-]*): ")


# pydantic puts the chosen member of a tagged union in the location (deployer.docker.image); the spec has no such key.
_UNION_TAGS = {"deployer": {"local", "docker", "ome"}}
# ... and, for a plain union, each member's type (search_space.x.low.int and .low.float): one field, one place.
_UNION_MEMBER = re.compile(r"^(?:constrained-)?(?:int|float|str|bool|none)$|^[a-z-]+\[.*\]$")


def _location(loc: tuple[int | str, ...]) -> str:
    if loc and loc[-1] == "[key]":
        loc = loc[:-2]  # a bad mapping key: the message quotes it, the location is the mapping
    text = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif _UNION_MEMBER.match(part) or (index and part in _UNION_TAGS.get(str(loc[index - 1]), ())):
            continue  # pydantic's names for validator wrappers and union members carry no meaning for the user
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _shows_input(item: Any) -> bool:
    # Values under engine.env may be secrets typed in the wrong place: never echo them.
    secret = tuple(item["loc"][:2]) == ("engine", "env")
    return item["type"] != "missing" and "input" in item and not isinstance(item["input"], dict) and not secret


def _texts(value: Any) -> list[str]:
    """The strings in a value, so a long one can be cut wherever a message quotes it."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [text for item in items for text in _texts(item)]


def _plain(item: Any) -> str:
    """pydantic's message, in the spec's words where it names a Python class."""
    if item["type"] == "model_type":
        return "Input should be a section: a mapping of its fields, such as {name: value}"
    return str(item["msg"]).removeprefix("Value error, ")


def describe_validation_error(
    error: ValidationError, unknown_hint: str = "check its spelling against docs/spec.md"
) -> list[str]:
    """One line per error: where, what was wrong, and the value given."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        where, message = _location(item["loc"]), _plain(item)
        if item["type"] == "extra_forbidden":
            message = f"unknown field ({unknown_hint})"
        elif (sub := _SUBFIELD.match(message)) is not None and not message.startswith("'"):
            path, message = sub.group(1), message[sub.end() :]
            where = path if not item["loc"] else where + ("" if path.startswith("[") else ".") + path
        elif _shows_input(item) and repr(item["input"]) not in message:
            message += f" (given: {_shortened(repr(item['input']))})"
        for text in _texts(item.get("input")):
            if len(quoted := repr(text)) > _LONGEST_VALUE:
                message = message.replace(quoted, _shortened(quoted))
        line = f"{where}: {_shortened(message, _LONGEST_MESSAGE, _LONGEST_MESSAGE - 30)}"
        if line not in lines:  # a value wrong for every member of a union is one mistake
            lines.append(line)
    return lines


# A message stays on one readable line: a pasted value is cut to its start, and the whole to what a terminal shows.
_LONGEST_VALUE, _SHOWN_OF_VALUE, _LONGEST_MESSAGE = 120, 40, 360


def _shortened(text: str, limit: int = _LONGEST_VALUE, shown: int = _SHOWN_OF_VALUE) -> str:
    """A value pasted by mistake (a whole file, a key) is shown by its start and its size, not in full."""
    return text if len(text) <= limit else f"{text[:shown]}... ({len(text)} characters)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: YAML keeps the last one silently,
    and a spec whose `benchmark:` appears twice would run with half of what its author wrote."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice (lines {seen[key]} and {line}); keep one",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _unique_json_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if twice := sorted({key for key in keys if keys.count(key) > 1}):
        raise json.JSONDecodeError(f"key {twice[0]!r} is given twice in one object; keep one", "", 0)
    return dict(pairs)


def read_document(path: str | Path, error: type[InvalidFile] = SpecError) -> Any:
    """The data of a YAML (or, by its suffix, JSON) file; an unreadable or malformed file raises ``error``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        if path.suffix == ".json":
            return json.loads(text, object_pairs_hook=_unique_json_keys)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader that refuses duplicate keys
    except json.JSONDecodeError as exc:
        raise error(str(path), [f"not valid JSON: {exc}"]) from None
    except yaml.YAMLError as exc:
        raise error(str(path), [f"not valid YAML: {_yaml_problem(exc, text)}"]) from None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """Where the YAML breaks and why, on one line, instead of the parser's several with `in "<unicode string>"`."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        character = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return f"line {line}: character {character} is not allowed in YAML ({exc.reason})"
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return str(exc)
    mark = exc.problem_mark
    problem = _shortened(str(exc.problem or exc.context))
    if "'\\t'" in problem:
        problem += "; YAML indents with spaces, not tabs"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}{context}"


def spec_from_data(data: Any, source: str = "spec", base_dir: Path | None = None) -> TuningSpec:
    if data is None:
        raise SpecError(
            source, ["(top level): the file holds no spec; expected a mapping of sections (name, model, ...)"]
        )
    if not isinstance(data, dict):
        raise SpecError(source, [f"(top level): expected a mapping of sections, got {type(data).__name__}"])
    try:
        return TuningSpec.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise SpecError(source, describe_validation_error(exc)) from None


def load_spec(path: str | Path) -> TuningSpec:
    """Load a YAML or JSON spec; relative paths inside it are taken from the spec file's folder."""
    return spec_from_data(read_document(path), str(path), base_dir=Path(path).resolve().parent)
