"""The engine's own log lines in the trial's Prefect logs while it starts.

Its warnings and errors go at WARNING, the rest at DEBUG (hidden unless that logger's level lets DEBUG through);
the whole log stays in the trial's ``engine.log``. They go through the ``servetune.engine`` logger, which
Prefect sends to the run it is logged in (``tuning.runtime.run_logs``): the trial's ``wait_ready`` task.

An engine may echo its environment or arguments, so each line is redacted first: the values of variables
that carry secrets, and anything shaped like a token.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

from tuning.spec import TuningSpec
from tuning.spec._base import SECRET_NAME, looks_like_secret

log = logging.getLogger("servetune.engine")

# vLLM writes "WARNING 12-02 10:00:01 [config.py:12] ...", newer releases "(APIServer pid=7) WARNING 12-02 ...";
# SGLang "[2025-01-01 10:00:01] WARNING ..."; Python's own "Traceback ..." and "ValueError: ...".
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b")
_LEVEL_WITHIN = 80  # characters: a level marker is at the start of a line, before its message
_ALARMING = frozenset({"WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"})
_PYTHON_ERROR = re.compile(r"^\s*Traceback \(most recent call last\)|\b\w*(?:Error|Exception):")
_PROXY_URLS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
_MIN_SECRET_LENGTH = 4
_WORDS = re.compile(r"""[^\s'"=:,;]+""")


def level_of(line: str) -> int:
    """WARNING for the engine's warnings and errors (its level marker, a traceback), DEBUG for the rest."""
    marker = _LEVEL.search(line[:_LEVEL_WITHIN])
    if marker is not None:
        return logging.WARNING if marker.group(1) in _ALARMING else logging.DEBUG
    return logging.WARNING if _PYTHON_ERROR.search(line) else logging.DEBUG


def secret_values(spec: TuningSpec) -> list[str]:
    """Values in servetune's environment the engine may have been given and must not be shown: the variables
    ``engine.pass_env`` names, proxy URLs (they may hold a password), and any variable named like a secret."""
    names = {*spec.engine.pass_env, *_PROXY_URLS, *(n for n in os.environ if SECRET_NAME.search(n))}
    values = {os.environ[n] for n in names if len(os.environ.get(n, "")) >= _MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)  # a longer value first, in case one contains another


def redact(line: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        line = line.replace(value, "***")
    return _WORDS.sub(lambda word: "***" if looks_like_secret(word.group()) else word.group(), line)


def relay(lines: list[str], spec: TuningSpec) -> None:
    """Log the engine's new lines, redacted, each at its level."""
    if not lines:
        return
    secrets = secret_values(spec)
    for line in lines:
        level = level_of(line)
        if log.isEnabledFor(level):
            log.log(level, "%s", redact(line, secrets))


def read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """The complete lines of ``path`` after byte ``offset``, and the offset after them (a line still being written
    is read next time)."""
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return data[:end].decode(errors="replace").splitlines(), offset + end
