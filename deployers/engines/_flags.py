"""An engine's flags as its own argument parser defines them, and a spec's flags checked against them.

The parser lives in the engine's environment, not servetune's: ``_flag_dump.py`` runs under the engine's
interpreter (``engine.python`` / ``engine.venv``) and writes the parser's actions as JSON. The dump is cached
in servetune's data directory per engine, interpreter and engine version, so a parser is read once per
installed version. The values a spec gives its flags are then put to the engine itself (``_value_check.py``).
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployers.engines._engine_env import FlagsUnavailable, cache_path, run, tail
from deployers.engines._value_check import Engine, ValueCase, shown, value_problems
from tuning.spec import ParamValue, TuningSpec

DUMP_SCRIPT = Path(__file__).with_name("_flag_dump.py")
DUMP_FORMAT = 1
_VERSION_TIMEOUT = 60.0
_DUMP_TIMEOUT = 300.0
_NOT_INSTALLED = 3

logger = logging.getLogger(__name__)

_KIND_TEXT = {
    "int": "an integer",
    "float": "a number",
    "bool": "'true' or 'false' written as a string",
    "json": "a JSON string",
    "str": "text",
    "other": "a value",
    "switch": "true or false",
}
# Words of flag names that are set-up rather than performance: never worth a tuning trial.
_SETUP_WORDS = (
    "path paths dir file files url urls endpoint endpoints host hosts port ports addr address uds socket name "
    "names tokenizer revision download log logs logging level seed key keys cert certs certfile keyfile ssl "
    "token otlp trace traces tracing metrics prometheus debug profile profiler rank nnodes node nodes dist "
    "timeout origins headers methods id ids trust canary return report recorder parser grpc http2 reuseport "
    "warmup ray embedding disaggregation elastic kt mlx nvtx gc secs time"
)
_NOT_TUNABLE_WORDS = frozenset(_SETUP_WORDS.split())
_NOT_TUNABLE_NAMES = frozenset({"model", "model-path", "served-model-name", "config", "api-key", "help"})


@dataclass(frozen=True)
class Flag:
    """One flag of the engine's parser. ``name`` is its canonical spelling, without dashes."""

    name: str
    options: tuple[str, ...]
    kind: str
    type: str | None = None
    nargs: int | str | None = None
    choices: tuple[Any, ...] | None = None
    open_choices: bool = False
    default: Any = None
    boolean_optional: bool = False
    store_false: bool = False
    deprecated: bool = False
    help: str = ""

    @property
    def takes_value(self) -> bool:
        return self.kind != "switch"

    @property
    def aliases(self) -> list[str]:
        """Every other spelling, as the engine writes it (``-tp``, ``--tp-size``)."""
        return [o for o in self.options if o.lstrip("-") != self.name and not self._negation(o)]

    def _negation(self, option: str) -> bool:
        return self.boolean_optional and option.startswith("--no-")

    @property
    def type_text(self) -> str:
        builtin = {"int", "float", "str", None}
        text = self.kind if self.type in builtin else f"{self.kind} ({self.type})"
        if self.nargs in ("+", "*") or (isinstance(self.nargs, int) and self.kind != "switch"):
            text += " list"
        return text

    def accepted(self) -> str:
        """What a value of this flag may be, in words."""
        if self.choices is not None and not self.open_choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind == "switch":
            return "true (pass the flag) or false (leave it out)"
        return _KIND_TEXT.get(self.kind, "a value")

    @property
    def tunable(self) -> bool:
        """Whether trials over this flag make sense: numbers, switches and choices, not set-up."""
        if self.deprecated or self.name in _NOT_TUNABLE_NAMES:
            return False
        if set(self.name.split("-")) & _NOT_TUNABLE_WORDS:
            return False
        if self.kind in ("json", "other") or self.nargs in ("+", "*"):
            return False
        has_choices = self.choices is not None and not self.open_choices
        return self.kind in ("int", "float", "switch", "bool") or has_choices


@dataclass(frozen=True)
class _Spelling:
    flag: Flag
    short: bool  # a one-dash option (vLLM's -tp): servetune passes flags with two dashes
    negated: bool  # --no-X of a BooleanOptionalAction


@dataclass
class EngineFlags:
    """The flags of one installed engine version, as its own parser defines them."""

    engine: str
    distribution: str
    version: str
    python: str
    flags: list[Flag]
    _spellings: dict[str, _Spelling] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for flag in self.flags:
            for option in flag.options:
                spelling = option.lstrip("-").replace("_", "-")
                short = not option.startswith("--")
                known = self._spellings.get(spelling)
                if known is None or (known.short and not short):
                    self._spellings[spelling] = _Spelling(flag, short, flag._negation(option))

    @classmethod
    def from_dump(cls, dump: dict[str, Any]) -> EngineFlags:
        flags = []
        for item in dump["flags"]:
            options = tuple(item["options"])
            long = [o for o in options if o.startswith("--") and not (item["boolean_optional"] and o[:5] == "--no-")]
            dest = "--" + item["dest"].replace("_", "-")
            canonical = dest if dest in long else (long or list(options))[0]
            flags.append(
                Flag(
                    name=canonical.lstrip("-"),
                    options=options,
                    kind=item["kind"],
                    type=item["type"],
                    nargs=item["nargs"],
                    choices=None if item["choices"] is None else tuple(item["choices"]),
                    open_choices=item["open_choices"],
                    default=item["default"],
                    boolean_optional=item["boolean_optional"],
                    store_false=item["store_false"],
                    deprecated=item["deprecated"],
                    help=item["help"],
                )
            )
        return cls(dump["engine"], dump["distribution"], dump["version"], dump["python"], flags)

    @property
    def label(self) -> str:
        return f"{self.engine} {self.version}"

    def lookup(self, name: str) -> Flag | None:
        """The flag a spec's name (without dashes) means, through any of its aliases."""
        spelling = self._spellings.get(name.replace("_", "-"))
        return spelling.flag if spelling else None

    def canonical(self, name: str) -> str | None:
        flag = self.lookup(name)
        return flag.name if flag else None

    def suggest(self, name: str) -> str | None:
        """The nearest real flag to a misspelt one."""
        long = [s for s, spelling in self._spellings.items() if not spelling.short]
        close = difflib.get_close_matches(name, long, n=1, cutoff=0.6)
        if close:
            return close[0]
        extended = sorted((s for s in long if s.startswith(f"{name}-")), key=len)  # tp -> tp-size
        return extended[0] if extended else None

    def check(self, spec: TuningSpec, managed: tuple[str, ...] = ()) -> list[str]:
        """Problems with the spec's engine.args and search_space, one line each, naming the field.

        Names and kinds are checked against the dump; the values that pass are then put to the engine itself,
        in one process (``_value_check``): its parser's own type functions and its configuration's bounds.
        """
        found: list[str | ValueCase] = []
        managed_names = {self.canonical(m) or m for m in managed}
        where: dict[str, str] = {}  # canonical name -> the field that set it first

        def known(field_name: str, name: str) -> Flag | None:
            spelling = self._spellings.get(name)
            if spelling is None:
                hint = self.suggest(name)
                advice = f"did you mean {hint}?" if hint else f"see `servetune flags {self.engine}`"
                found.append(f"{field_name}: not a flag of {self.label}; {advice}")
                return None
            flag = spelling.flag
            if spelling.short:
                found.append(
                    f"{field_name}: {self.label} knows this only as -{name} (one dash), but servetune passes "
                    f"--{name}; write {flag.name}"
                )
                return None
            if flag.name in managed_names:
                found.append(f"{field_name}: servetune sets --{flag.name} itself (from model.* and the deployer)")
                return None
            if flag.name in where:
                found.append(f"{field_name}: the same {self.engine} flag as {where[flag.name]} ({flag.name})")
                return None
            where[flag.name] = field_name
            if spelling.negated:
                return Flag(name=name, options=(f"--{name}",), kind="switch")
            return flag

        def value(field_name: str, name: str, flag: Flag, given: ParamValue) -> None:
            problems = self._check_value(field_name, name, flag, given)
            if problems:
                found.extend(problems)
            elif flag.takes_value and not isinstance(given, bool):
                found.append(ValueCase(field_name, name, f"--{flag.name}", given, flag.accepted()))

        for name, given in spec.engine.args.items():
            flag = known(f"engine.args.{name}", name)
            if flag is not None:
                value(f"engine.args.{name}", name, flag, given)
        for name, dimension in spec.search_space.items():
            field_name = f"search_space.{name}"
            flag = known(field_name, name)
            if flag is None:
                continue
            if dimension.values is not None:
                for number, given in enumerate(dimension.values):
                    value(f"{field_name}.values[{number}]", name, flag, given)
                continue
            if flag.kind not in ("int", "float", "other") or (flag.choices is not None and not flag.open_choices):
                found.append(
                    f"{field_name}: a range needs a numeric flag; {name} takes {flag.accepted()}: list its values"
                )
                continue
            for end in ("low", "high"):  # the ends bound every value between them
                if (given := getattr(dimension, end)) is not None:
                    value(f"{field_name}.{end}", name, flag, given)
            if dimension.step is not None:
                found += self._check_value(f"{field_name}.step", name, flag, dimension.step)
        engine = Engine(self.engine, self.version, self.python)
        verdicts = iter(value_problems(engine, [item for item in found if isinstance(item, ValueCase)]))
        lines = [item if isinstance(item, str) else next(verdicts) for item in found]
        return [line for line in lines if line is not None]

    def _check_value(self, field_name: str, name: str, flag: Flag, value: ParamValue) -> list[str]:
        given = f"(given: {shown(value)})"
        if not flag.takes_value:
            if not isinstance(value, bool):
                return [f"{field_name}: {name} is a switch that takes no value; write true or false {given}"]
            if value is False and flag.boolean_optional and flag.default is True:
                return [
                    f"{field_name}: false leaves --{name} out, and {self.engine}'s default is on; "
                    f"to turn it off write no-{name}: true"
                ]
            return []
        if isinstance(flag.nargs, int) and flag.nargs > 1:
            return [f"{field_name}: {name} takes {flag.nargs} values; servetune passes one per flag {given}"]
        if isinstance(value, bool):
            if value is True and flag.nargs == "?":
                return []  # a bare flag is one of its forms
            if flag.kind == "bool":
                return [f"{field_name}: {name} takes a value; write 'true' or 'false' in quotes {given}"]
            return [
                f"{field_name}: {name} takes a value ({flag.accepted()}), not true/false; true would pass a bare "
                f"--{name} {given}"
            ]
        if not _fits_kind(flag, value):
            return [f"{field_name}: {name} takes {_KIND_TEXT.get(flag.kind, 'a value')} {given}"]
        if flag.choices is not None and not flag.open_choices and not _in_choices(flag, value):
            return [f"{field_name}: {shown(value)} is not a choice of {name}; {self.engine} accepts {flag.accepted()}"]
        return []


def _fits_kind(flag: Flag, value: ParamValue) -> bool:
    builtin = flag.type in ("int", "float", "str", None)
    if flag.kind == "int":
        if isinstance(value, int):
            return True
        if isinstance(value, str):
            return not builtin or _parses(int, value)  # a custom parser (say '8k') is the engine's to judge
        return False
    if flag.kind == "float":
        return isinstance(value, int | float) or (isinstance(value, str) and (not builtin or _parses(float, value)))
    if flag.kind == "json":
        return not isinstance(value, str) or _parses(json.loads, value)
    return True


def _in_choices(flag: Flag, value: ParamValue) -> bool:
    assert flag.choices is not None
    if flag.kind in ("int", "float"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return any(isinstance(c, int | float) and not isinstance(c, bool) and float(c) == number for c in flag.choices)
    return str(value) in {str(c) for c in flag.choices}


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


# ---- reading the parser from the engine's environment ----

_loaded: dict[tuple[str, str, str], EngineFlags] = {}


def _interpreter(python: str) -> str:
    """The interpreter as an absolute path (not resolved: a venv's python is a symlink to the base one)."""
    found = shutil.which(python) if os.sep not in python else (python if os.access(python, os.X_OK) else None)
    if found is None:
        raise FlagsUnavailable(f"{python} does not exist")
    return os.path.abspath(found)


def engine_version(engine: str, python: str) -> tuple[str, str]:
    """(distribution, version) of the engine installed for ``python``; cheap, imports nothing of the engine."""
    code, out, err = run([python, "-I", str(DUMP_SCRIPT), engine, "--version"], _VERSION_TIMEOUT)
    if code == _NOT_INSTALLED:
        raise FlagsUnavailable(f"{engine} is not installed for {python}")
    if code != 0 or len(out.split()) != 2:
        raise FlagsUnavailable(f"{python} could not tell the {engine} version:\n{tail(err or out)}")
    distribution, version = out.split()
    return distribution, version


def engine_flags(engine: str, python: str, refresh: bool = False) -> EngineFlags:
    """The flags of ``engine`` as installed for the interpreter ``python``, from the cache or a fresh dump.

    Raises FlagsUnavailable with the reason when they cannot be read.
    """
    python = _interpreter(python)
    _, version = engine_version(engine, python)
    key = (engine, python, version)
    if key in _loaded and not refresh:
        return _loaded[key]
    path = cache_path(engine, python, version)
    dump = None if refresh else _read_dump(path, engine, version)
    if dump is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            code, out, err = run([python, "-I", str(DUMP_SCRIPT), engine, str(partial)], _DUMP_TIMEOUT)
            if code != 0:
                raise FlagsUnavailable(f"reading {engine}'s parser with {python} failed:\n{tail(err or out)}")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        dump = _read_dump(path, engine, version)
        if dump is None:
            raise FlagsUnavailable(f"{path}: the parser dump of {engine} {version} is not readable")
    _loaded[key] = EngineFlags.from_dump(dump)
    return _loaded[key]


def _read_dump(path: Path, engine: str, version: str) -> dict[str, Any] | None:
    try:
        dump = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(dump, dict) or dump.get("format") != DUMP_FORMAT:
        return None
    if dump.get("engine") != engine or dump.get("version") != version:
        return None
    return dump


def default_flags_python(engine: str) -> str:
    """An interpreter to read ``engine``'s flags with: the first under ./.venvs that has it, else python3."""
    for python in sorted(Path(".venvs").glob("*/bin/python")):
        try:
            engine_version(engine, str(python.absolute()))
        except FlagsUnavailable:
            continue
        return str(python.absolute())
    return "python3"


# ---- what validation and the tune flow call ----


def not_checked_note(spec: TuningSpec, reason: str) -> str:
    from deployers.engines import ENGINES

    engine = spec.engine.name.value
    venv = ENGINES[engine].flags_venv
    example = f" (`make setup` builds one: {venv})" if venv else ""
    return (
        f"{engine} flags not checked against the engine: {reason}. To check them, point engine.python or "
        f"engine.venv at an environment with {engine} installed{example}"
    )


def flag_problems(spec: TuningSpec) -> tuple[list[str], EngineFlags | None, str | None]:
    """(problems, the flags checked against, a note when they could not be checked)."""
    from deployers.engines import engine_adapter

    adapter = engine_adapter(spec.engine)
    try:
        flags = adapter.flags()
    except FlagsUnavailable as exc:
        return adapter.neutral_problems(spec), None, not_checked_note(spec, str(exc))
    return adapter.check_flags(spec, flags), flags, None


def check_engine_flags(spec: TuningSpec, source: str = "spec") -> EngineFlags | None:
    """Raise SpecError when the spec's flags do not fit the installed engine's parser; return the flags checked
    against (which name the engine's version).

    When the parser cannot be read (no engine environment here), log a warning and return None: a Docker or OME
    spec is valid without one.
    """
    from tuning.spec.loading import SpecError

    problems, flags, note = flag_problems(spec)
    if problems:
        raise SpecError(source, problems)
    if note:
        logger.warning("%s", note)
    return flags
