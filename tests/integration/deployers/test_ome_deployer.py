"""The OME deployer against OME's CRD schemas and a stand-in Kubernetes API server (tests/kube_standin.py).

No cluster can run here. Manifests are checked against the InferenceService CRD's own schema (closed, so a
misspelt field fails), and the deployer talks through the real kubernetes client to the stand-in, which
validates what it is sent and plays the cluster's part as each test scripts it. The engine behind the
port-forward is a tiny local HTTP server answering /health and /v1/completions.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from deployers import DeployError, EngineExited, ReadyTimeout, TransientDeployError, _live_engines
from deployers._ome import (
    MAX_NAME,
    OmeDeployer,
    OmeHandle,
    PortForwardRelay,
    label_value,
    resource_name,
    yaml_value,
)
from deployers._readiness import probe
from tests.support.http_standin import StandInHandler
from tests.support.kube_standin import CRD_DIR, KubeStandIn, closed_schema, crd_schema, schema_errors
from tests.support.paths import REPO
from tuning.search.space import configurations
from tuning.spec import OmeDeployerSpec, TuningSpec
from tuning.spec.loading import load_spec

NS = "servetune"
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
NASTY = [
    'a"b',
    "it's",
    "line\nbreak: true\n  - injected",
    "# not a comment",
    "{{ jinja }} {% raw %}",
    "key: value",
    "- item",
    "&anchor *alias !tag %directive @at `tick`",
    "back\\slash \\n",
    "tab\there",
    "nul\x00bell\x07del\x7f",
    "nel\x85nbsp\xa0",
    "unicode é ü 中文",
    "emoji 😀 𝄞",
    "$(MODEL_PATH) $$(HOME) $",
    "",
    " leading and trailing ",
    "null",
    "true",
    "0x1F",
    "1e3",
    "---",
    "...",
]


def make_spec(**deployer: Any) -> TuningSpec:
    settings = {
        "kind": "ome",
        "namespace": NS,
        "base_model": "qwen3-8b",
        "serving_runtime": "vllm-qwen3-8b",
        "in_cluster": False,
        "poll_interval": 0.01,
        "delete_timeout": 5,
    } | deployer
    return TuningSpec.model_validate(
        {
            "name": "ome-test",
            "model": {"path": "Qwen/Qwen3-8B", "served_name": "qwen3-8b", "tokenizer": "/home/me/tokenizer"},
            "engine": {"name": "vllm", "args": {"max-model-len": 4096}},
            "deployer": settings,
            "search_space": {"max-num-seqs": [8, 16], "tensor-parallel-size": [1, 2]},
        }
    )


class FakeEngine:
    """An OpenAI-style engine on a local port: what the port-forward reaches in the 'pod'."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        engine = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                engine.paths.append(self.path)
                self.answer(200, {} if self.path == "/health" else {"data": [{"id": "qwen3-8b"}]})

            def do_POST(self) -> None:
                engine.paths.append(self.path)
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.answer(200, {"model": request["model"], "choices": [{"index": 0, "text": "!"}]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = ("127.0.0.1", int(self.server.server_address[1]))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def standin() -> Iterator[KubeStandIn]:
    server = KubeStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    fake = FakeEngine()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    yield
    for key in _live_engines.registered():
        # This process's relays are closed; the services lived in a stand-in that is gone by now.
        if key.startswith("ome-relay/"):
            _live_engines.stop(key)
        else:
            _live_engines.unregister(key)


def deployer_on(standin: KubeStandIn, **settings: Any) -> OmeDeployer:
    return OmeDeployer(make_spec(**settings), api_client=standin.api_client())


def serve_when_polled(standin: KubeStandIn, engine: FakeEngine, polls: int = 2) -> None:
    """Script the cluster: some polls after creation, the service goes Ready with a Running engine pod."""

    def created(service: dict[str, Any]) -> None:
        name = service["metadata"]["name"]

        def come_up() -> None:
            standin.set_ready(NS, name)
            standin.add_pod(
                NS, name, log="INFO: Started server process\nINFO: Uvicorn running\n", forward_to=engine.address
            )

        standin.after(polls, come_up)

    standin.on_create = created


# --- the manifest -------------------------------------------------------------------------------------------


def test_rendered_manifest_validates_against_the_crd() -> None:
    deployer = OmeDeployer(make_spec())
    for number, params in enumerate(configurations(deployer.spec)):
        manifest = deployer.manifest("0123456789ab", number, params)
        assert schema_errors(manifest) == []


def test_manifest_names_model_runtime_and_runs_the_trial_flags_on_its_gpus() -> None:
    deployer = OmeDeployer(make_spec())
    params = {"max-num-seqs": 16, "tensor-parallel-size": 2}
    manifest = deployer.manifest("0123456789ab", 3, params)
    spec = manifest["spec"]
    assert spec["model"] == {"name": "qwen3-8b"}
    assert spec["runtime"] == {"name": "vllm-qwen3-8b"}
    assert (spec["engine"]["minReplicas"], spec["engine"]["maxReplicas"]) == (1, 1)
    runner = spec["engine"]["runner"]
    assert runner["name"] == "ome-container"
    assert "image" not in runner  # the runtime's image unless the spec names one
    assert runner["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert runner["args"] == deployer.engine_args(params)
    args = runner["args"]
    assert args[args.index("--model") + 1] == "$(MODEL_PATH)"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert args[args.index("--port") + 1] == "8080"
    assert args[args.index("--served-model-name") + 1] == "qwen3-8b"
    assert args[args.index("--max-num-seqs") + 1] == "16"
    assert args[args.index("--max-model-len") + 1] == "4096"
    assert "--tokenizer" not in args, "a local tokenizer path means nothing in the pod"
    assert runner["resources"] == {"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": "2"}}
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in runner["env"]
    labels = manifest["metadata"]["labels"]
    assert labels["servetune.run"] == "0123456789ab"
    assert labels["servetune.trial"] == "3"
    assert labels["servetune.name"] == "ome-test"
    assert spec["engine"]["labels"] == labels
    assert all(isinstance(v, str) and LABEL_VALUE.match(v) for v in labels.values())
    assert json.loads(manifest["metadata"]["annotations"]["servetune.params"]) == params


def test_spec_options_reach_the_runner() -> None:
    deployer = OmeDeployer(
        make_spec(
            image="registry.example.com:5000/vllm/vllm-openai:v0.11.0",
            command=["vllm", "serve"],
            container_name="engine",
            port=9000,
            gpu_resource="amd.com/gpu",
        )
    )
    manifest = deployer.manifest("run", 0, {"tensor-parallel-size": 1})
    runner = manifest["spec"]["engine"]["runner"]
    assert runner["image"] == "registry.example.com:5000/vllm/vllm-openai:v0.11.0"
    assert runner["command"] == ["vllm", "serve"]
    assert runner["name"] == "engine"
    assert runner["args"][runner["args"].index("--port") + 1] == "9000"
    assert runner["resources"]["limits"] == {"amd.com/gpu": "1"}
    assert schema_errors(manifest) == []


def test_preview_command_is_the_container_argv() -> None:
    deployer = OmeDeployer(make_spec())
    params = {"max-num-seqs": 8, "tensor-parallel-size": 1}
    argv = deployer.preview_command(params)
    runner = deployer.manifest("run", 0, params)["spec"]["engine"]["runner"]
    assert argv == runner["command"] + runner["args"]
    assert argv[:3] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert not any(item.startswith(("kubectl", "#")) for item in argv)


@pytest.mark.parametrize("value", NASTY)
def test_yaml_value_round_trips(value: str) -> None:
    assert yaml.safe_load(yaml_value(value)) == value
    assert yaml.safe_load(yaml_value([value, {"k": value}])) == [value, {"k": value}]


def test_flag_values_cannot_break_the_manifest() -> None:
    spec = make_spec().model_copy(deep=True)
    engine = spec.engine.model_copy(update={"args": {f"flag-{i}": v for i, v in enumerate(NASTY)}})
    env = {"WEIRD": "x\ny: 1 $(HOME)"}
    spec = spec.model_copy(update={"engine": engine.model_copy(update={"env": env})})
    deployer = OmeDeployer(spec)
    manifest = deployer.manifest("run", 0, {"max-num-seqs": "8\n  - --evil"})
    assert schema_errors(manifest) == []
    runner = manifest["spec"]["engine"]["runner"]
    # Kubernetes reads $$ as $ and $(VAR) as a reference: undo that, and the container gets the flags as written.
    as_run = [a if a == "$(MODEL_PATH)" else a.replace("$$", "$") for a in runner["args"]]
    assert as_run == deployer.engine_args({"max-num-seqs": "8\n  - --evil"})
    for i, value in enumerate(NASTY):
        assert as_run[as_run.index(f"--flag-{i}") + 1] == value
    assert {"name": "WEIRD", "value": "x\ny: 1 $$(HOME)"} in runner["env"]
    assert set(manifest) == {"apiVersion", "kind", "metadata", "spec"}


@pytest.mark.parametrize(
    ("run_name", "run_id"),
    [("ome-test", "0123456789ab"), ("x" * 63, "0123456789ab"), ("7-up", "ABC_def.123"), ("a", ""), ("a-", "-")],
)
def test_names_are_dns_labels_unique_per_trial(run_name: str, run_id: str) -> None:
    names = {resource_name(run_name, run_id, trial) for trial in (0, 1, 12, 1234)}
    assert len(names) == 4
    for name in names:
        assert len(name) <= MAX_NAME <= 63 - len("-engine")
        assert DNS_1035.match(name), name


# --- the CRD schema helper ----------------------------------------------------------------------------------


def _mutated(path: str, value: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(OmeDeployer(make_spec()).manifest("run", 0, {"tensor-parallel-size": 1}))
    *parents, last = path.split(".")
    node = manifest
    for key in parents:
        node = node[key]
    node[last] = value
    return manifest


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.engine.unknownField", True, "unknownField"),
        ("spec.model.nmae", "qwen3-8b", "nmae"),
        ("spec.engine.runner.argz", ["--x"], "argz"),
        ("spec.engine.minReplicas", "one", "minReplicas"),
        ("spec.engine.runner.args", "--max-num-seqs 8", "args"),
        ("spec.engine.runner.resources.limits", {"nvidia.com/gpu": True}, "limits"),
        ("spec.engine.runner.resources.limits", {"nvidia.com/gpu": "two"}, "limits"),
        ("metadata.name", "Not_A_Name", "metadata.name"),
        ("metadata.labels", {"servetune.trial": 3}, "servetune.trial"),
    ],
)
def test_closed_schema_catches_unknown_fields_and_wrong_types(path: str, value: Any, expected: str) -> None:
    errors = schema_errors(_mutated(path, value))
    assert errors, f"{path}={value!r} passed the schema"
    assert any(expected in error for error in errors), errors


def test_the_open_crd_schema_would_miss_unknown_fields() -> None:
    crd = yaml.load((CRD_DIR / "ome.io_inferenceservices.yaml").read_text(), Loader=yaml.CSafeLoader)
    raw = next(v for v in crd["spec"]["versions"] if v["served"])["schema"]["openAPIV3Schema"]
    manifest = _mutated("spec.engine.unknownField", True)
    assert list(jsonschema.Draft7Validator(raw).iter_errors(manifest)) == []
    assert list(jsonschema.Draft7Validator(crd_schema("ome.io_inferenceservices.yaml")).iter_errors(manifest))


def test_closed_schema_keeps_open_what_kubernetes_keeps_open() -> None:
    schema = closed_schema(
        {
            "type": "object",
            "properties": {
                "a": {"type": "object", "properties": {"b": {"type": "string"}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {}},
                "map": {"type": "object", "additionalProperties": {"type": "string"}},
                "q": {"x-kubernetes-int-or-string": True},
            },
        }
    )
    validator = jsonschema.Draft7Validator(schema)
    assert validator.is_valid({"a": {"b": "x"}, "free": {"anything": 1}, "map": {"k": "v"}, "q": 3})
    assert validator.is_valid({"q": "50%"})
    assert not validator.is_valid({"q": True})
    assert not validator.is_valid({"a": {"c": "x"}})
    assert not validator.is_valid({"zzz": 1})


# --- deploy, readiness, logs, teardown, sweep: through the stand-in --------------------------------------------


def test_deploy_sends_the_rendered_manifest(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    params = {"max-num-seqs": 8, "tensor-parallel-size": 2}
    deployment = deployer.deploy("0123456789ab", 0, params, tmp_path / "trial-0")
    assert standin.created == [deployer.manifest("0123456789ab", 0, params)]
    assert schema_errors(standin.created[0]) == []
    create = next(r for r in standin.requests if r[0] == "POST")
    assert create[1] == f"/apis/ome.io/v1beta1/namespaces/{NS}/inferenceservices"
    assert create[2]["fieldValidation"] == ["Strict"]
    assert deployment.handle == OmeHandle(namespace=NS, name=standin.created[0]["metadata"]["name"])
    assert deployment.command == deployer.preview_command(params)
    assert deployment.gpus == 2
    assert deployment.log_path == str(tmp_path / "trial-0" / "engine.log")
    assert deployment.endpoint.startswith("http://127.0.0.1:")
    assert deployer.teardown(deployment) is True


def test_ready_with_a_running_pod_is_probed_through_the_port_forward(
    standin: KubeStandIn, engine: FakeEngine, tmp_path: Path
) -> None:
    serve_when_polled(standin, engine, polls=3)
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {"tensor-parallel-size": 1}, tmp_path)
    waited = deployer.wait_ready(deployment, timeout=30)
    assert waited < 30
    assert engine.paths[:2] == ["/health", "/v1/completions"], "the probe went through the relay to the engine"
    # The relay serves every later connection too (genai-bench opens many).
    for _ in range(3):
        assert httpx.get(deployment.endpoint + "/v1/models", timeout=10).json()["data"][0]["id"] == "qwen3-8b"
    assert deployer.is_running(deployment)
    assert "Uvicorn running" in deployer.logs(deployment, 5)
    assert deployer.teardown(deployment) is True
    with pytest.raises(httpx.TransportError):
        httpx.get(deployment.endpoint + "/health", timeout=2)
    assert "Uvicorn running" in (tmp_path / "engine.log").read_text()


def test_ready_without_a_pod_is_not_ready(standin: KubeStandIn, tmp_path: Path) -> None:
    standin.on_create = lambda service: standin.set_ready(NS, service["metadata"]["name"])
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    with pytest.raises(ReadyTimeout, match="Ready but it has no engine pod"):
        deployer.wait_ready(deployment, timeout=0.3)
    assert deployer.is_running(deployment)
    deployer.teardown(deployment)


def test_a_pending_pod_is_not_ready(standin: KubeStandIn, tmp_path: Path) -> None:
    def created(service: dict[str, Any]) -> None:
        standin.set_ready(NS, service["metadata"]["name"])
        standin.add_pod(NS, service["metadata"]["name"], phase="Pending")

    standin.on_create = created
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    with pytest.raises(ReadyTimeout, match="is Pending"):
        deployer.wait_ready(deployment, timeout=0.3)
    deployer.teardown(deployment)


def test_not_ready_in_time_is_a_ready_timeout(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    with pytest.raises(ReadyTimeout, match=r"not ready after 0.2s: InferenceService not Ready"):
        deployer.wait_ready(deployment, timeout=0.2)
    deployer.teardown(deployment)


def test_a_crashing_engine_fails_fast_with_its_log_and_is_removed(standin: KubeStandIn, tmp_path: Path) -> None:
    crash = "INFO: loading\nvllm: error: unrecognized arguments: --bogus-flag 1\n"

    def created(service: dict[str, Any]) -> None:
        name = service["metadata"]["name"]
        standin.set_ready(NS, name, ready=False, reason="EngineNotReady", message="0/1 replicas available")
        standin.after(1, lambda: standin.add_pod(NS, name, waiting="CrashLoopBackOff", restarts=2, previous_log=crash))

    standin.on_create = created
    standin.pod_linger_lists = 2
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 4, {}, tmp_path / "trial-4")
    with pytest.raises(EngineExited, match="CrashLoopBackOff") as failed:
        deployer.wait_ready(deployment, timeout=30)
    assert "unrecognized arguments: --bogus-flag" in str(failed.value)
    assert not deployer.is_running(deployment)
    log_reads = [r for r in standin.requests if r[1].endswith("/log")]
    assert log_reads and all(r[2]["container"] == ["ome-container"] for r in log_reads)
    assert any(r[2].get("previous") == ["true"] for r in log_reads), (
        "a restarted container's crash is in its previous log"
    )

    # The trial's cleanup: the log survives in the trial folder, and nothing is left in the cluster.
    assert deployer.teardown(deployment) is True
    assert "unrecognized arguments: --bogus-flag" in (tmp_path / "trial-4" / "engine.log").read_text()
    assert "--bogus-flag" in deployer.logs(deployment, 10)
    assert standin.services == {}
    assert standin.pods_of(NS, deployment.handle.name) == []


def test_a_failed_pod_is_an_engine_exit(standin: KubeStandIn, tmp_path: Path) -> None:
    def created(service: dict[str, Any]) -> None:
        standin.add_pod(NS, service["metadata"]["name"], phase="Running", exit_code=1, log="CUDA out of memory\n")

    standin.on_create = created
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    with pytest.raises(EngineExited, match=r"exited with code 1(.|\n)*CUDA out of memory"):
        deployer.wait_ready(deployment, timeout=30)
    deployer.teardown(deployment)


def test_a_model_that_fails_to_load_is_an_engine_exit(standin: KubeStandIn, tmp_path: Path) -> None:
    def created(service: dict[str, Any]) -> None:
        with standin.lock:
            service["status"] = {
                "modelStatus": {
                    "transitionStatus": "BlockedByFailedLoad",
                    "lastFailureInfo": {"message": "weights not found"},
                }
            }

    standin.on_create = created
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    with pytest.raises(EngineExited, match="weights not found"):
        deployer.wait_ready(deployment, timeout=30)
    deployer.teardown(deployment)


def test_teardown_deletes_and_waits_for_the_pods_to_go(
    standin: KubeStandIn, engine: FakeEngine, tmp_path: Path
) -> None:
    serve_when_polled(standin, engine, polls=1)
    standin.pod_linger_lists = 3
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    deployer.wait_ready(deployment, timeout=30)
    assert standin.pods_of(NS, deployment.handle.name)
    assert deployer.teardown(deployment) is True
    deleted_at = next(i for i, r in enumerate(standin.requests) if r[0] == "DELETE")
    pod_lists = [r for r in standin.requests[deleted_at:] if r[1] == f"/api/v1/namespaces/{NS}/pods"]
    assert len(pod_lists) >= 4, "teardown polled until the lingering pods were gone"
    assert standin.pods_of(NS, deployment.handle.name) == []
    assert standin.services == {}


def test_teardown_gives_up_waiting_after_delete_timeout(standin: KubeStandIn, tmp_path: Path) -> None:
    standin.on_create = lambda service: standin.add_pod(NS, service["metadata"]["name"])
    standin.pod_linger_lists = 10**9  # a pod that never terminates
    deployer = deployer_on(standin, delete_timeout=0.2)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    assert deployer.teardown(deployment) is True
    assert standin.services == {}


def test_teardown_is_idempotent(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    assert deployer.teardown(deployment) is True
    assert deployer.teardown(deployment) is False
    assert OmeDeployer(deployer.spec, api_client=standin.api_client()).teardown(deployment) is False


def test_teardown_never_raises_on_api_errors(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    deployment = deployer.deploy("run1", 0, {}, tmp_path)
    standin.fail_next("DELETE", "inferenceservices", 503, "etcd is busy")
    assert deployer.teardown(deployment) is False
    assert deployer.sweep("run1", include_live_owners=True) == [f"{NS}/{deployment.handle.name}"]


def test_sweep_of_a_run_removes_only_that_runs_services(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    mine = [deployer.deploy("runa", n, {}, tmp_path / f"a{n}") for n in (0, 1)]
    other = deployer.deploy("runb", 0, {}, tmp_path / "b0")
    assert deployer.sweep("runa") == [], "their owner (this process) is alive"
    removed = deployer.sweep("runa", include_live_owners=True)
    assert sorted(removed) == sorted(f"{NS}/{d.handle.name}" for d in mine)
    assert list(standin.services) == [(NS, other.handle.name)]
    assert deployer.sweep("runa", include_live_owners=True) == []
    list_calls = [r for r in standin.requests if r[0] == "GET" and r[1].endswith("/inferenceservices")]
    assert list_calls[-1][2]["labelSelector"] == ["servetune.run=runa"]
    deployer.teardown(other)


def test_sweep_removes_the_orphans_of_this_machine(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    live = deployer.deploy("live", 0, {}, tmp_path)
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    api = k8s.CustomObjectsApi(standin.api_client())

    def leftover(run_id: str, owner: str) -> str:
        body = deployer.manifest(run_id, 0, {})
        body["metadata"]["labels"]["servetune.owner"] = label_value(owner)
        body["metadata"]["annotations"]["servetune.owner"] = owner
        api.create_namespaced_custom_object("ome.io", "v1beta1", NS, "inferenceservices", body)
        return body["metadata"]["name"]

    dead = f"{socket.gethostname()}/{dead_pid.stdout.strip()}"
    orphan = leftover("crashed", dead)
    orphan_of_other_run = leftover("crashed2", dead)
    elsewhere = leftover("remote", "another-machine/1")
    assert deployer.sweep("crashed") == [f"{NS}/{orphan}"]
    assert deployer.sweep() == [f"{NS}/{orphan_of_other_run}"]
    assert set(standin.services) == {(NS, live.handle.name), (NS, elsewhere)}
    assert sorted(deployer.sweep(include_live_owners=True)) == sorted([f"{NS}/{live.handle.name}", f"{NS}/{elsewhere}"])
    assert standin.services == {}


def test_sweep_removes_the_orphans_left_by_the_previous_release(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    api = k8s.CustomObjectsApi(standin.api_client())

    def leftover(run_id: str, host: str, pid: str) -> str:
        # The previous release labelled the owner's host and PID apart, with no owner annotation.
        body = deployer.manifest(run_id, 0, {})
        del body["metadata"]["labels"]["servetune.owner"], body["metadata"]["annotations"]["servetune.owner"]
        body["metadata"]["labels"] |= {"servetune.owner-host": label_value(host), "servetune.owner-pid": pid}
        api.create_namespaced_custom_object("ome.io", "v1beta1", NS, "inferenceservices", body)
        return body["metadata"]["name"]

    orphan = leftover("crashed", socket.gethostname(), dead_pid.stdout.strip())
    elsewhere = leftover("remote", "another-machine", "1")
    alive = leftover("alive", socket.gethostname(), str(os.getpid()))
    assert deployer.sweep() == [f"{NS}/{orphan}"]
    assert set(standin.services) == {(NS, elsewhere), (NS, alive)}
    deployer.sweep(include_live_owners=True)


def test_endpoint_is_the_service_in_the_cluster(
    standin: KubeStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = deployer_on(standin, in_cluster=True, service_port=8080)
    deployment = inside.deploy("run1", 0, {}, tmp_path)
    name = deployment.handle.name
    assert deployment.endpoint == f"http://{name}.{NS}.svc:8080"
    assert inside._relays == {}, "no port-forward inside the cluster"
    inside.teardown(deployment)

    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert deployer_on(standin, in_cluster=None).in_cluster is True
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    outside = deployer_on(standin, in_cluster=None)
    assert outside.in_cluster is False
    deployment = outside.deploy("run1", 1, {}, tmp_path)
    assert deployment.endpoint == outside._relays[(NS, deployment.handle.name)].url
    outside.teardown(deployment)
    assert outside._relays == {}


def test_api_errors_name_their_cause(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    standin.fail_next(
        "POST", "inferenceservices", 422, 'admission webhook denied: referenced model "qwen3-8b" not found'
    )
    with pytest.raises(DeployError, match='referenced model "qwen3-8b" not found') as rejected:
        deployer.deploy("run1", 0, {}, tmp_path)
    assert not isinstance(rejected.value, TransientDeployError)
    standin.fail_next("POST", "inferenceservices", 403, "forbidden")
    with pytest.raises(DeployError, match="RBAC"):
        deployer.deploy("run1", 0, {}, tmp_path)
    standin.fail_next("POST", "inferenceservices", 503, "apiserver is shutting down")
    with pytest.raises(TransientDeployError, match="HTTP 503"):
        deployer.deploy("run1", 0, {}, tmp_path)
    assert standin.services == {}


def test_an_existing_service_is_removed_for_a_clean_retry(standin: KubeStandIn, tmp_path: Path) -> None:
    deployer = deployer_on(standin)
    first = deployer.deploy("run1", 0, {}, tmp_path)
    with pytest.raises(TransientDeployError, match="already existed"):
        deployer.deploy("run1", 0, {}, tmp_path)
    assert standin.services == {}
    retried = deployer.deploy("run1", 0, {}, tmp_path)
    assert retried.handle == first.handle
    deployer.teardown(retried)


def test_an_unreachable_api_server_is_transient(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configuration = k8s.Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    configuration.retries = 0
    deployer = OmeDeployer(make_spec(), api_client=k8s.ApiClient(configuration))
    with pytest.raises(TransientDeployError):
        deployer.deploy("run1", 0, {}, tmp_path)


def test_pass_env_is_refused(standin: KubeStandIn, tmp_path: Path) -> None:
    spec = make_spec()
    spec = spec.model_copy(update={"engine": spec.engine.model_copy(update={"pass_env": ["HF_TOKEN"]})})
    with pytest.raises(DeployError, match="pass_env"):
        OmeDeployer(spec, api_client=standin.api_client()).deploy("run1", 0, {}, tmp_path)
    assert standin.created == []


def test_the_standin_rejects_what_the_api_server_would(standin: KubeStandIn) -> None:
    api = k8s.CustomObjectsApi(standin.api_client())
    good = OmeDeployer(make_spec()).manifest("run", 0, {})
    unknown = copy.deepcopy(good)
    unknown["spec"]["engine"]["unknownField"] = 1
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_custom_object(
            "ome.io", "v1beta1", NS, "inferenceservices", unknown, field_validation="Strict"
        )
    assert caught.value.status == 400 and "unknownField" in caught.value.body
    wrong_type = copy.deepcopy(good)
    wrong_type["spec"]["engine"]["maxReplicas"] = "1"
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_custom_object("ome.io", "v1beta1", NS, "inferenceservices", wrong_type)
    assert caught.value.status == 422 and "maxReplicas" in caught.value.body
    assert standin.services == {}


def test_the_relay_joins_each_connection_to_a_fresh_upstream() -> None:
    upstreams: list[socket.socket] = []

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data.upper())

    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    def connect() -> tuple[socket.socket, Any]:
        upstream = socket.create_connection(listener.getsockname())
        upstreams.append(upstream)
        return upstream, upstream.close

    relay = PortForwardRelay(connect)
    try:
        for word in (b"one", b"two"):
            with socket.create_connection((relay.host, relay.port), timeout=5) as conn:
                conn.sendall(word)
                assert conn.recv(1024) == word.upper()
        assert len(upstreams) == 2
    finally:
        relay.close()
        listener.close()
    with pytest.raises(OSError):
        socket.create_connection((relay.host, relay.port), timeout=1)


def test_the_relay_closes_a_connection_it_cannot_forward() -> None:
    def no_pod() -> tuple[socket.socket, Any]:
        raise ConnectionError("no running pod yet")

    relay = PortForwardRelay(no_pod)
    try:
        # The readiness probe sees a closed connection: not ready yet, and it tries again.
        reason = probe(relay.url, "/health", "qwen3-8b")
        assert reason is not None and reason.startswith("/health: ")
    finally:
        relay.close()


# --- the example and the docs -----------------------------------------------------------------------------


def test_the_ome_example_renders_a_valid_first_trial() -> None:
    spec = load_spec(REPO / "examples" / "vllm-ome.yaml")
    assert isinstance(spec.deployer, OmeDeployerSpec)
    deployer = OmeDeployer(spec)
    first = configurations(spec)[0]
    manifest = deployer.manifest("0123456789ab", 0, first)
    assert schema_errors(manifest) == []
    runner = manifest["spec"]["engine"]["runner"]
    assert runner["resources"]["limits"]["nvidia.com/gpu"] == str(deployer.engine.gpu_count(first))
    assert manifest["spec"]["model"]["name"] == spec.deployer.base_model
    assert manifest["spec"]["runtime"]["name"] == spec.deployer.serving_runtime
    assert deployer.preview_command(first) == runner["command"] + runner["args"]


def test_the_crds_are_vendored_with_their_license() -> None:
    for name in ("inferenceservices", "benchmarkjobs", "clusterservingruntimes", "clusterbasemodels"):
        head = (CRD_DIR / f"ome.io_{name}.yaml").read_text()[:2000]
        assert "kind: CustomResourceDefinition" in head and "group: ome.io" in head, name
    assert "Apache License" in (CRD_DIR / "LICENSE").read_text()
    assert "sgl-project/ome" in (CRD_DIR / "README.md").read_text()


def test_the_ome_guide_covers_every_deployer_field() -> None:
    guide = (REPO / "docs" / "deploy-ome.md").read_text()
    for field in OmeDeployerSpec.model_fields:
        assert f"`{field}`" in guide, f"docs/deploy-ome.md does not mention deployer.{field}"


def test_no_cluster_is_contacted_to_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", os.devnull)
    deployer = OmeDeployer(make_spec(in_cluster=None))
    assert deployer.preview_command({})[0] == "python3"
    assert deployer._api_client is None


def test_the_kubeconfig_and_context_of_the_spec_are_used(standin: KubeStandIn, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "standin", "cluster": {"server": standin.url}},
                    {"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:9"}},
                ],
                "users": [{"name": "me", "user": {"token": "t0ken"}}],
                "contexts": [
                    {"name": "tuning", "context": {"cluster": "standin", "user": "me"}},
                    {"name": "other", "context": {"cluster": "elsewhere", "user": "me"}},
                ],
                "current-context": "other",
            }
        )
    )
    deployer = OmeDeployer(make_spec(kubeconfig=str(kubeconfig), context="tuning"))
    deployment = deployer.deploy("run1", 0, {}, tmp_path / "trial")
    assert list(standin.services) == [(NS, deployment.handle.name)]
    assert deployer.teardown(deployment) is True


def test_a_missing_cluster_configuration_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(DeployError, match="cannot load the Kubernetes configuration"):
        OmeDeployer(make_spec(in_cluster=None)).sweep()
