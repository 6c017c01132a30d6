"""A spec's flag values put to the engine itself: its parser's type functions and its configuration's bounds.

The dump (``_flag_dump.py``) tells a flag's kind, but a custom type function (vLLM's ``human_readable_int``,
SGLang's) is the engine's to judge, and so is a bound its configuration declares (vLLM's
``gpu_memory_utilization`` in (0, 1]). ``_value_probe.py`` answers both in the engine's environment, for all of
one spec's values in one process. Its verdicts are cached beside the dump, per engine version and interpreter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployers.engines._engine_env import FlagsUnavailable, cache_path, run, tail

if TYPE_CHECKING:
    from tuning.spec import ParamValue

PROBE_SCRIPT = Path(__file__).with_name("_value_probe.py")
_PROBE_USES = (PROBE_SCRIPT, Path(__file__).with_name("_flag_dump.py"))  # the probe builds the dump's parsers
_PROBE_TIMEOUT = 300.0
_LONGEST_VALUE, _LONGEST_ERROR = 120, 300

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValueCase:
    """One value of the spec, at ``field``, for the flag the spec names ``name`` (canonically ``option``)."""

    field: str
    name: str
    option: str
    value: ParamValue
    accepted: str  # what the flag takes in servetune's words, for a refusal that brings none of the engine's

    @property
    def key(self) -> tuple[str, str]:
        """What the engine receives: the option and the value as one argv item (as ``flag_args`` writes it)."""
        return self.option, str(self.value)


@dataclass(frozen=True)
class Engine:
    """The installed engine to ask: its name, version and interpreter."""

    name: str
    version: str
    python: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def shown(value: Any) -> str:
    """A value as a message quotes it: a value pasted by mistake shows its start and its size."""
    return _shortened(repr(value), _LONGEST_VALUE)


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def value_problems(engine: Engine, cases: list[ValueCase]) -> list[str | None]:
    """The engine's refusal of each case, one line naming the field, the value and what is accepted; or None.

    When the engine cannot be asked (its environment broke since the dump), the values are left to its start-up
    and a warning says so: the names and kinds were still checked against the dump.
    """
    if not cases:
        return []
    try:
        verdicts = _verdicts(engine, sorted({case.key for case in cases}))
    except FlagsUnavailable as exc:
        logger.warning("%s flag values not checked against the engine: %s", engine.name, exc)
        return [None] * len(cases)
    return [_problem(engine, case, verdicts.get(case.key)) for case in cases]


def _problem(engine: Engine, case: ValueCase, verdict: dict[str, Any] | None) -> str | None:
    if verdict is None:
        return None
    refused, error = f"{case.field}: {engine.label}", _shortened(str(verdict["error"]), _LONGEST_ERROR)
    if verdict["by"] == "parser":
        words = verdict.get("accepts")
        accepted = f"accepted, in {engine.name}'s words: {words}" if words else f"accepted: {case.accepted}"
        return f"{refused}'s parser refuses {shown(case.value)} for {case.name}: {error}; {accepted}"
    return f"{refused} refuses {shown(case.value)} for {case.name} ({verdict['by']}): {error}"


# ---- asking the engine, once per spec, remembering its answers ----


def _probe_digest() -> str:
    # A changed probe may judge differently: its verdicts are not reused.
    return hashlib.sha256(b"".join(path.read_bytes() for path in _PROBE_USES)).hexdigest()[:16]


def _cache_file(engine: Engine) -> Path:
    dump = cache_path(engine.name, engine.python, engine.version)
    return dump.with_name(dump.stem + ".values.json")


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(cached, dict) or cached.get("probe") != _probe_digest():
        return {}
    verdicts = cached.get("verdicts")
    return verdicts if isinstance(verdicts, dict) else {}


def _write_cache(path: Path, verdicts: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        partial.write_text(json.dumps({"probe": _probe_digest(), "verdicts": verdicts}), encoding="utf-8")
        os.replace(partial, path)  # a concurrent run's answers may be lost, never half-written
    except OSError as exc:
        logger.debug("could not cache flag verdicts at %s: %s", path, exc)
    finally:
        partial.unlink(missing_ok=True)


def _verdicts(engine: Engine, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any] | None]:
    path = _cache_file(engine)
    cached = _read_cache(path)
    known = {key: cached[json.dumps(key)] for key in keys if json.dumps(key) in cached}
    missing = [key for key in keys if key not in known]
    if missing:
        answers = _ask(engine, missing)
        known.update(answers)
        _write_cache(path, cached | {json.dumps(key): verdict for key, verdict in answers.items()})
    return known


def _ask(engine: Engine, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any] | None]:
    with tempfile.TemporaryDirectory(prefix="servetune-values-") as folder:
        request, answer = Path(folder) / "request.json", Path(folder) / "answer.json"
        request.write_text(json.dumps([list(key) for key in keys]), encoding="utf-8")
        argv = [engine.python, "-I", str(PROBE_SCRIPT), engine.name, str(request), str(answer)]
        code, out, err = run(argv, _PROBE_TIMEOUT, what=f"asking {engine.label} about the values")
        if code != 0:
            raise FlagsUnavailable(f"asking {engine.label} about the values failed:\n{tail(err or out)}")
        try:
            verdicts = json.loads(answer.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FlagsUnavailable(f"{engine.label} gave no readable answer about the values: {exc}") from None
    if not isinstance(verdicts, list) or len(verdicts) != len(keys):
        raise FlagsUnavailable(f"{engine.label} did not answer one verdict for each of {len(keys)} values")
    return dict(zip(keys, verdicts, strict=True))
