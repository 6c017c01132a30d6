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


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith("function-") or part in {"list[...]"}:
            continue  # pydantic's names for validator wrappers carry no meaning for the user
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _shows_input(item: Any) -> bool:
    # Values under engine.env may be secrets typed in the wrong place: never echo them.
    secret = tuple(item["loc"][:2]) == ("engine", "env")
    return item["type"] != "missing" and "input" in item and not isinstance(item["input"], dict) and not secret


def describe_validation_error(
    error: ValidationError, unknown_hint: str = "check its spelling against docs/spec.md"
) -> list[str]:
    """One line per error: where, what was wrong, and the value given."""
    lines = []
    for item in error.errors(include_url=False):
        where, message = _location(item["loc"]), item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown field ({unknown_hint})"
        elif (sub := _SUBFIELD.match(message)) is not None and not message.startswith("'"):
            path, message = sub.group(1), message[sub.end() :]
            where = path if not item["loc"] else where + ("" if path.startswith("[") else ".") + path
        elif _shows_input(item) and repr(item["input"]) not in message:
            message += f" (given: {_shortened(repr(item['input']))})"
        lines.append(f"{where}: {_shortened(message, _LONGEST_MESSAGE)}")
    return lines


_LONGEST_VALUE, _LONGEST_MESSAGE = 120, 600


def _shortened(text: str, limit: int = _LONGEST_VALUE) -> str:
    """A value pasted by mistake (a whole file, a key) is shown by its start and its size, not in full."""
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


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
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise error(str(path), [f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"]) from None


def spec_from_data(data: Any, source: str = "spec", base_dir: Path | None = None) -> TuningSpec:
    if not isinstance(data, dict):
        raise SpecError(source, [f"(top level): expected a mapping of sections, got {type(data).__name__}"])
    try:
        return TuningSpec.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise SpecError(source, describe_validation_error(exc)) from None


def load_spec(path: str | Path) -> TuningSpec:
    """Load a YAML or JSON spec; relative paths inside it are taken from the spec file's folder."""
    return spec_from_data(read_document(path), str(path), base_dir=Path(path).resolve().parent)
