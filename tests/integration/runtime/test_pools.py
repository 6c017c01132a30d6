"""Work pools and GPU slot limits from a pools file (tuning/runtime/pools.py), applied to a real Prefect server."""

from __future__ import annotations

import importlib.util
import socket
import uuid
from pathlib import Path

import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect.workers.process import ProcessJobConfiguration

from tests.support.paths import REPO
from tuning.cli import main
from tuning.runtime.pools import PoolApplyError, PoolFileError, apply_pools, load_pools


def fleet(tag: str, h100_slots: int = 8, home: str = "/var/lib/servetune") -> dict:
    """Two H100 pools (process workers on two kinds of machine) and a CPU pool; names unique to the test."""
    return {
        "pools": [
            {
                "name": f"gpu-h100-{tag}",
                "type": "process",
                "gpu_class": f"h100{tag}",
                "slots": h100_slots,
                "description": "H100 machines",
                "job_variables": {"working_dir": "/opt/servetune", "env": {"SERVETUNE_HOME": home}},
            },
            {"name": f"gpu-h100b-{tag}", "gpu_class": f"h100{tag}", "slots": 4},
            {"name": f"cpu-{tag}", "gpu_class": None, "slots": 2},
        ]
    }


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "pools.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


def test_apply_creates_the_pools_with_their_job_variables_and_one_limit_per_gpu_class(
    prefect_server: None, tmp_path: Path, tag: str
) -> None:
    done = apply_pools(write(tmp_path, fleet(tag)))
    assert f"created work pool gpu-h100-{tag} (process, GPU class h100{tag})" in done
    assert f"created concurrency limit servetune-gpu-h100{tag} (12 slots)" in done
    with get_client(sync_client=True) as client:
        pool = client.read_work_pool(f"gpu-h100-{tag}")
        assert pool.type == "process" and pool.description == "H100 machines"
        # What a process worker of this pool gives a flow run, with a deployment's own env on top.
        job = run_coro_as_sync(
            ProcessJobConfiguration.from_template_and_values(pool.base_job_template, {"env": {"EXTRA": "1"}})
        )
        assert str(job.working_dir) == "/opt/servetune"
        assert job.env["SERVETUNE_HOME"] == "/var/lib/servetune"
        assert job.env["SERVETUNE_GPU_CLASS"] == f"h100{tag}"
        assert job.env["EXTRA"] == "1"
        cpu = client.read_work_pool(f"cpu-{tag}")
        cpu_job = run_coro_as_sync(ProcessJobConfiguration.from_template_and_values(cpu.base_job_template, {}))
        # Trials on a pool without GPUs take slots of the CPU limit, one engine per slot.
        assert cpu_job.env["SERVETUNE_GPU_CLASS"] == "cpu"
        # The two H100 pools share their class's limit: 8 + 4 GPUs.
        assert client.read_global_concurrency_limit_by_name(f"servetune-gpu-h100{tag}").limit == 12


def test_applying_again_changes_nothing_and_says_so(prefect_server: None, tmp_path: Path, tag: str) -> None:
    path = write(tmp_path, fleet(tag))
    apply_pools(path)
    with get_client(sync_client=True) as client:
        before = client.read_work_pool(f"gpu-h100-{tag}").updated
    again = apply_pools(path)
    assert len(again) == 5  # three pools, two limits
    assert all(line.startswith("unchanged") for line in again), again
    with get_client(sync_client=True) as client:
        assert client.read_work_pool(f"gpu-h100-{tag}").updated == before


def test_a_changed_file_updates_only_what_changed(prefect_server: None, tmp_path: Path, tag: str) -> None:
    apply_pools(write(tmp_path, fleet(tag)))
    done = apply_pools(write(tmp_path, fleet(tag, h100_slots=16, home="/data/servetune")))
    assert f"updated work pool gpu-h100-{tag}" in done
    assert f"unchanged work pool gpu-h100b-{tag}" in done
    assert f"updated concurrency limit servetune-gpu-h100{tag} (12 -> 20 slots)" in done
    with get_client(sync_client=True) as client:
        env = client.read_work_pool(f"gpu-h100-{tag}").base_job_template["variables"]["properties"]["env"]
        assert env["default"]["SERVETUNE_HOME"] == "/data/servetune"
        assert client.read_global_concurrency_limit_by_name(f"servetune-gpu-h100{tag}").limit == 20


def test_a_pool_of_another_type_on_the_server_is_reported_not_overwritten(
    prefect_server: None, tmp_path: Path, tag: str
) -> None:
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=f"cpu-{tag}", type="docker"))
    with pytest.raises(PoolApplyError, match=f"cpu-{tag} exists with type 'docker'.*prefect work-pool delete"):
        apply_pools(write(tmp_path, fleet(tag)))
    with get_client(sync_client=True) as client:
        assert client.read_work_pool(f"cpu-{tag}").type == "docker"


def test_pools_apply_prints_what_it_did(
    prefect_server: None, tmp_path: Path, tag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, fleet(tag))
    assert main(["pools", "apply", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"created work pool cpu-{tag}" in out and "change(s) applied" in out
    assert main(["pools", "apply", str(path)]) == 0
    assert capsys.readouterr().out.endswith(f"{path}: no changes\n")


def test_pools_apply_refuses_to_apply_to_a_temporary_server(
    tmp_path: Path, tag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with temporary_settings(updates={PREFECT_API_URL: None}):
        assert main(["pools", "apply", str(write(tmp_path, fleet(tag)))]) == 2
    assert "PREFECT_API_URL is not set" in capsys.readouterr().err


def test_pools_apply_says_when_the_server_cannot_be_reached(
    tmp_path: Path, tag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    with temporary_settings(updates={PREFECT_API_URL: url}):
        assert main(["pools", "apply", str(write(tmp_path, fleet(tag)))]) == 1
    assert f"the Prefect server at {url} did not take the pools" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["pools"][1].update(colour="blue"), "pools[1].colour: unknown field"),
        (lambda d: d["pools"][0].update(slots=0), "pools[0].slots: Input should be greater than 0"),
        (lambda d: d["pools"][2].update(name=d["pools"][0]["name"]), "pools[2].name: 'gpu-h100-"),
        (lambda d: d["pools"][0].update(name="GPU_H100"), "pools[0].name: 'GPU_H100' is not a pool name"),
        (lambda d: d["pools"][0].pop("gpu_class"), "pools[0].gpu_class: Field required"),
        (
            lambda d: d["pools"][0]["job_variables"].update(image="vllm/vllm-openai"),
            "pools[0].job_variables.image: not a job variable of a process pool",
        ),
        (
            lambda d: d["pools"][0]["job_variables"]["env"].update(SERVETUNE_DATABASE_URL="postgresql://u:pw@db/st"),
            "pools[0].job_variables.env.SERVETUNE_DATABASE_URL: a URL with a password",
        ),
        (
            lambda d: d["pools"][0]["job_variables"]["env"].update(PORT=8000),
            "pools[0].job_variables.env.PORT: 8000 is not valid",
        ),
        pytest.param(
            lambda d: d["pools"][2].update(type="kubernetes"),
            "pools[2].type: no 'kubernetes' worker is installed",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("prefect_kubernetes") is not None, reason="prefect-kubernetes is installed"
            ),
        ),
    ],
    ids=[
        "unknown-key",
        "slots-0",
        "duplicate-name",
        "bad-name",
        "no-gpu-class",
        "unknown-job-variable",
        "secret",
        "env-int",
        "no-k8s-worker",
    ],
)
def test_a_bad_file_is_refused_naming_the_field(
    prefect_server: None, tmp_path: Path, tag: str, change, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = fleet(tag)
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(PoolFileError) as error:
        apply_pools(path)
    assert any(line.startswith(problem) for line in error.value.problems), error.value.problems
    assert main(["pools", "apply", str(path)]) == 2
    assert problem in capsys.readouterr().err
    with get_client(sync_client=True) as client:  # nothing of a refused file reaches the server
        assert not [p for p in client.read_work_pools() if p.name.endswith(tag)]


def test_the_shipped_pools_file_is_valid() -> None:
    pools = load_pools(REPO / "infra" / "pools.yaml")
    names = [p.name for p in pools.pools]
    assert {"gpu-h100", "gpu-a100", "cpu"} <= set(names)
    assert pools.limits()["servetune-cpu"] >= 1
    assert all(p.gpu_class for p in pools.pools if p.name.startswith("gpu-"))
