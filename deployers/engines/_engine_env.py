"""Running a script under an engine's own interpreter: the parser dump and the value probe.

Both run with ``python -I`` in a process group of their own, without network, and are stopped whole on a
timeout or an interrupt. What they write is cached in servetune's data directory per engine version and
interpreter.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tuning.errors import NotFound
from tuning.runtime.settings import data_dir

_POLL_SECONDS = 0.2


class FlagsUnavailable(NotFound, RuntimeError):
    """The engine could not be asked (no interpreter, engine not installed, import failed, too slow)."""


def _base_env() -> dict[str, str]:
    env = {k: v for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if (v := os.environ.get(k))}
    # Neither a parser nor a value check needs the network: no model hub, no usage reports.
    return env | {"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "VLLM_NO_USAGE_STATS": "1"}


def run(argv: list[str], timeout: float, what: str = "reading the parser") -> tuple[int, str, str]:
    """Run ``argv`` in its own process group; stop the group on timeout or when interrupted."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=_base_env(), cwd=tempfile.gettempdir(),
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while process.poll() is None:
                if time.monotonic() > deadline:
                    raise FlagsUnavailable(f"{what} took longer than {timeout:g}s")
                time.sleep(_POLL_SECONDS)  # short steps, so a Prefect timeout or Ctrl-C gets through
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def cache_path(engine: str, python: str, version: str) -> Path:
    digest = hashlib.sha256(python.encode()).hexdigest()[:12]
    return data_dir() / "engine-flags" / f"{engine}-{version}-{digest}.json"
