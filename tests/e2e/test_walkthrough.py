"""docs/walkthrough.md, run as a user runs it: a Prefect server on PostgreSQL, the work pools and deployments
registered, a process worker on the `cpu` pool, and a two-trial tune started with `prefect deployment run`
whose trials run as flow runs of `trial/cpu`. Nothing is stood in: real PostgreSQL, Prefect server and worker,
vLLM CPU engine and genai-bench.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.objects import FlowRun

from tests.support.paths import REPO
from tests.support.real_runs import real_engine_spec, wait_for
from tuning.runtime import process_group
from tuning.spec import StrategyName, TuningSpec
from tuning.store import Store

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
# Seconds. The server migrates an empty database on its first start. A trial takes about a minute on an idle
# machine, 4-6 minutes beside another engine (11 minutes for the whole run were measured so).
SERVER_START = 240
WORKER_START = 120
TUNE_RUN = 1800


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _create_database(socket_dir: str, name: str) -> None:
    with psycopg.connect(f"postgresql://postgres@/postgres?host={socket_dir}", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def _background(argv: list[str], env: dict[str, str], log: Path, label: str) -> Iterator[None]:
    """A long-running command in its own process group, stopped as a group when the block ends."""
    pgid = process_group.start(argv, log, env, label, cwd=REPO)
    try:
        yield
    finally:
        process_group.stop(pgid, label, grace=60)


def _run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _worker_online(api: str, name: str) -> bool:
    with SyncPrefectClient(api) as client:
        return any(w.name == name and w.status == "ONLINE" for w in client.read_workers_for_work_pool("cpu"))


def _engines_of(store: Store) -> dict[int, str]:
    """Engines and benchmarks still running for the tuning runs in this test's database, by process group."""
    found: dict[int, str] = {}
    for run in store.runs():
        found |= process_group.labelled(f"servetune/{run.id}/")
    return found


def _diagnosis(logs: Path) -> str:
    return "\n".join(f"--- {log.name}:\n{process_group.tail(log, 40)}" for log in sorted(logs.glob("*.log")))


def _described(schema: dict[str, Any], field: dict[str, Any]) -> str:
    """A field's description, or else that of the model it refers to: the run form shows either."""
    if "description" in field:
        return field["description"]
    ref = field.get("$ref", "").rsplit("/", 1)[-1]
    return schema["definitions"].get(ref, {}).get("description", "")


def _check_run_form_schema(schema: dict[str, Any]) -> None:
    """The `tune` deployment's parameter schema, from which the Prefect UI renders the run form."""
    assert schema["properties"]["spec"]["$ref"] == "#/definitions/TuningSpec"
    assert schema["required"] == ["spec"]
    definitions = schema["definitions"]
    spec_fields = definitions["TuningSpec"]["properties"]
    # The form shows each field under the name a spec file uses (`objective`, not its Python name).
    assert set(spec_fields) == {field.alias or name for name, field in TuningSpec.model_fields.items()}
    for name, field in spec_fields.items():
        assert _described(schema, field), f"spec.{name} has no description in the run form"
    assert definitions["ModelSpec"]["properties"]["path"]["description"].startswith("Local folder of the model")
    assert definitions["StrategyName"]["enum"] == [s.value for s in StrategyName]
    strategy = definitions["StrategySpec"]["properties"]
    assert (strategy["name"]["default"], strategy["parallelism"]["default"]) == ("grid", 1)
    assert "work pool" in definitions["HardwareSpec"]["properties"]["pool"]["description"]


def _runs_of(client: SyncPrefectClient, deployment_id: Any) -> list[FlowRun]:
    return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def test_a_deployment_run_tunes_through_the_cpu_pool_and_stores_both_trials_in_postgres(
    postgres_server: str, postgres_url: str, tiny_model: Path, engine_venv: Path, tmp_path: Path
) -> None:
    prefect_db = postgres_url.rsplit("/", 1)[1].split("?")[0].replace("servetune_", "prefect_")
    _create_database(postgres_server, prefect_db)  # Prefect's own database, beside servetune's
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SERVETUNE_"))}
    base |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    server_env = base | {
        "PREFECT_HOME": str(tmp_path / "prefect-server"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://postgres@/{prefect_db}?host={postgres_server}",
    }
    cli_env = base | {"PREFECT_HOME": str(tmp_path / "prefect-cli"), "PREFECT_API_URL": api}
    worker_env = cli_env | {
        "PREFECT_HOME": str(tmp_path / "prefect-worker"),
        "SERVETUNE_DATABASE_URL": postgres_url,
        "SERVETUNE_HOME": str(tmp_path / "servetune-home"),
        "SERVETUNE_REPO": str(REPO),
    }
    logs = tmp_path / "logs"
    store = Store(postgres_url)
    # Engines start slowly on 2 cores shared with other work (up to 4 minutes seen): a generous ready timeout.
    timeouts = {"deploy": 30, "ready": 480, "benchmark": 300, "trial": 900}
    spec = real_engine_spec("walkthrough", tiny_model, engine_venv, hardware={"pool": "cpu"}, timeouts=timeouts)
    with ExitStack() as running:
        # Whatever ends the test, no engine of its runs outlives it (stopped last, after the worker).
        running.callback(lambda: [process_group.stop(pgid, label, 30) for pgid, label in _engines_of(store).items()])
        server = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        running.enter_context(_background(server, server_env, logs / "server.log", "walkthrough/server"))
        wait_for(lambda: _healthy(api), SERVER_START, f"the Prefect server at {api}")

        applied = _run([str(BIN / "servetune"), "pools", "apply", "infra/pools.yaml"], cli_env, 300)
        assert applied.returncode == 0, applied.stderr
        assert "created work pool cpu" in applied.stdout
        deployed = _run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], cli_env, 600)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        with SyncPrefectClient(api) as client:
            tune_deployment = client.read_deployment_by_name("tune/quickstart")
            trial_deployment = client.read_deployment_by_name("trial/cpu")
            [nightly] = client.read_deployment_by_name("regression/nightly").schedules
        _check_run_form_schema(tune_deployment.parameter_openapi_schema)
        assert (tune_deployment.work_pool_name, trial_deployment.work_pool_name) == ("cpu", "cpu")
        assert (nightly.schedule.cron, nightly.schedule.timezone) == ("0 3 * * *", "UTC")

        worker = [str(BIN / "prefect"), "worker", "start", "--pool", "cpu", "--type", "process", "--name", "wt"]
        running.enter_context(_background(worker, worker_env, logs / "worker.log", "walkthrough/worker"))
        wait_for(lambda: _worker_online(api, "wt"), WORKER_START, "the worker on the cpu pool")

        params = json.dumps({"spec": spec.model_dump(mode="json")})
        watched = _run(
            [str(BIN / "prefect"), "deployment", "run", "tune/quickstart", "--params", params, "--watch"],
            cli_env,
            TUNE_RUN,
        )
        assert watched.returncode == 0, watched.stdout[-3000:] + "\n" + _diagnosis(logs)
        assert "Flow run finished successfully in 'Completed'" in watched.stdout

        with SyncPrefectClient(api) as client:
            [tune_run] = _runs_of(client, tune_deployment.id)
            trial_runs = _runs_of(client, trial_deployment.id)
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[tune_run.id]))
            )

    # Prefect: the parent run and both trials completed, the trials as flow runs of trial/cpu on the cpu pool.
    assert tune_run.state.is_completed() and tune_run.work_pool_name == "cpu"
    assert len(trial_runs) == 2, [(r.name, r.state_name) for r in trial_runs]
    assert {r.id for r in children} == {r.id for r in trial_runs}  # shown under the tune run in the UI
    for run in trial_runs:
        assert run.state.is_completed(), (run.name, run.state.message)
        assert run.work_pool_name == "cpu"
    # servetune's database on the same PostgreSQL server: the run and both trials with their measurements.
    [stored] = store.runs()
    assert (stored.name, stored.state, stored.prefect_flow_run_id) == ("walkthrough", "completed", str(tune_run.id))
    assert sorted(r.parameters["trial_number"] for r in trial_runs) == [0, 1]
    assert {r.parameters["run_id"] for r in trial_runs} == {stored.id}
    trials = store.trials(stored.id)
    assert [t.params for t in trials] == [{"max-num-seqs": 2}, {"max-num-seqs": 4}]
    for trial in trials:
        assert trial.state == "succeeded" and trial.score and trial.score > 0
        [round_] = store.rounds(trial.id)
        assert (round_.concurrency, round_.num_failed) == (2, 0) and round_.output_throughput > 0
    assert stored.best_trial in (0, 1)
    assert not _engines_of(store), "an engine outlived its trial"
