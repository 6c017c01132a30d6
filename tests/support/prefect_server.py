"""A Prefect server of a test's own, on its own SQLite database, that the test may stop and start again on the same
port and database (the session's server, from Prefect's test harness, is shared and must not be disturbed); and
`servetune tune` run against it as a subprocess, as a user runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.paths import REPO
from tests.support.real_runs import wait_for
from tuning.runtime import process_group

BIN = Path(sys.executable).parent
# Seconds. The first start migrates an empty database; on a busy 2-core machine that has taken a minute.
SERVER_START = 120
_LABEL = "tests/prefect-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Prefect's or servetune's settings (the session sets some), plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SERVETUNE_"))}
    return (
        base | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"} | extra
    )


@dataclass
class PrivateServer:
    folder: Path
    port: int = field(default_factory=free_port)
    _pgid: int | None = None
    starts: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> None:
        """Start it, on the same port and database as before, and wait until it answers."""
        env = clean_env(
            PREFECT_HOME=str(self.folder / "home"),
            PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{self.folder / 'prefect.db'}",
            PREFECT_UI_ENABLED="false",
        )
        argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        self.starts += 1
        self._pgid = process_group.start(argv, self.folder / f"server-{self.starts}.log", env, _LABEL, cwd=REPO)
        wait_for(self.healthy, SERVER_START, f"the Prefect server at {self.api}")

    def stop(self) -> None:
        """Stop it as `systemctl restart` or a redeploy would (SIGTERM, SIGKILL after 10 s); return once it is gone."""
        if self._pgid is not None:
            process_group.stop(self._pgid, _LABEL, grace=10)
            self._pgid = None

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}:\n{process_group.tail(log, 30)}" for log in sorted(self.folder.glob("*.log")))


@contextmanager
def private_prefect_server(folder: Path) -> Iterator[PrivateServer]:
    folder.mkdir(parents=True, exist_ok=True)
    server = PrivateServer(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def start_tune(spec_file: Path, home: Path, api: str, output: Path, **env: str) -> subprocess.Popen[str]:
    """`servetune tune SPEC` against the Prefect server at ``api``, with its own data directory, its output in
    ``output``, in a session of its own (so the test can stop what is left of it as a group)."""
    with open(output, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tuning.cli", "tune", str(spec_file)],
            env=clean_env(SERVETUNE_HOME=str(home), PREFECT_API_URL=api, PREFECT_HOME=str(home / "prefect"), **env),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
