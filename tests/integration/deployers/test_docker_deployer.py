"""The Docker deployer, driven through the real docker SDK against a stand-in daemon (tests/docker_standin.py).

No Docker daemon can run on these machines; the stand-in answers the Engine API the SDK speaks, records the
request bodies, and plays a container that is ready, never ready, exits at once, or cannot bind its port.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import docker
import pytest

import deployers._base
from deployers import DeployError, EngineExited, ReadyTimeout, TransientDeployError
from deployers._docker import DockerDeployer
from tests.support.docker_standin import DockerStandIn
from tests.support.paths import REPO
from tuning.search.space import configurations
from tuning.spec import DockerDeployerSpec, TuningSpec
from tuning.spec.loading import load_spec

IMAGE = "vllm/vllm-openai:v0.11.0"
GIB = 1024**3


@pytest.fixture
def standin():
    with DockerStandIn() as daemon:
        daemon.images.add(IMAGE)
        yield daemon


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "models" / "tiny-llama"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def hf_token(monkeypatch):
    token = "hf_" + secrets.token_hex(16)
    monkeypatch.setenv("HF_TOKEN", token)
    return token


@pytest.fixture(autouse=True)
def _fast_ready_polls(monkeypatch):
    monkeypatch.setattr(deployers._base, "_READY_POLL_SECONDS", 0.05)


def make_spec(model, deployer=None, engine=None, **sections) -> TuningSpec:
    return TuningSpec.model_validate(
        {
            "name": "docker-test",
            "model": {"path": str(model), "served_name": "tiny", **sections.pop("model_extra", {})},
            "engine": {"args": {"enforce-eager": True, "max-model-len": 512}, **(engine or {})},
            "deployer": {"kind": "docker", "image": IMAGE, "stop_grace": 7, **(deployer or {})},
            "search_space": {"max-num-seqs": [2, 4]},
            **sections,
        }
    )


@pytest.fixture
def make_deployer(standin, model_dir):
    made: list[tuple[DockerDeployer, object]] = []

    def make(deployer=None, engine=None, **sections) -> DockerDeployer:
        client = docker.DockerClient(base_url=standin.url, version="1.43")
        instance = DockerDeployer(make_spec(model_dir, deployer, engine, **sections), client=client)
        made.append(instance)
        return instance

    yield make
    for instance in made:  # nothing a failed test started outlives it
        instance.sweep("run1", include_live_owners=True)


def deploy(deployer, tmp_path, params=None, devices=None, trial=0):
    return deployer.deploy("run1", trial, params or {"max-num-seqs": 4}, tmp_path / f"trial-{trial}", devices)


def value_after(argv, flag):
    assert argv.count(flag) == 1, f"{flag} should appear once in {argv}"
    return argv[argv.index(flag) + 1]


# ----- what the container is created with


def test_the_container_gets_exactly_the_given_gpus_and_no_cuda_visible_devices(standin, make_deployer, tmp_path):
    deploy(make_deployer(), tmp_path, {"max-num-seqs": 4, "tensor-parallel-size": 2}, devices=["2", "3"])

    (body,) = standin.created()
    assert body["HostConfig"]["DeviceRequests"] == [
        {"Driver": "", "Count": 0, "DeviceIDs": ["2", "3"], "Capabilities": [["gpu"]], "Options": {}}
    ]
    assert not any(item.startswith("CUDA_VISIBLE_DEVICES=") for item in body["Env"])


def test_without_devices_the_container_asks_for_no_gpu(standin, make_deployer, tmp_path):
    deploy(make_deployer(), tmp_path, devices=None)

    assert not standin.created()[0]["HostConfig"].get("DeviceRequests")


def test_cuda_visible_devices_in_engine_env_is_refused_when_docker_assigns_gpus(standin, make_deployer, tmp_path):
    deployer = make_deployer(engine={"env": {"CUDA_VISIBLE_DEVICES": "5"}})

    with pytest.raises(DeployError, match="CUDA_VISIBLE_DEVICES"):
        deploy(deployer, tmp_path, devices=["0"])
    assert not standin.created()


def test_the_engine_port_is_published_on_loopback_at_a_free_port_that_the_endpoint_uses(
    standin, make_deployer, tmp_path
):
    deployment = deploy(make_deployer(), tmp_path)

    (body,) = standin.created()
    (binding,) = body["HostConfig"]["PortBindings"]["8000/tcp"]
    assert binding["HostIp"] == "127.0.0.1"
    assert deployment.endpoint == f"http://127.0.0.1:{binding['HostPort']}"
    assert body["HostConfig"]["NetworkMode"] == "bridge"
    assert value_after(body["Cmd"], "--host") == "0.0.0.0"
    assert value_after(body["Cmd"], "--port") == "8000"


def test_host_networking_publishes_nothing_and_the_engine_listens_on_loopback(standin, make_deployer, tmp_path):
    deployment = deploy(make_deployer({"network": "host"}), tmp_path)

    (body,) = standin.created()
    assert body["HostConfig"]["NetworkMode"] == "host"
    assert not body["HostConfig"].get("PortBindings")
    port = value_after(body["Cmd"], "--port")
    assert value_after(body["Cmd"], "--host") == "127.0.0.1"
    assert deployment.endpoint == f"http://127.0.0.1:{port}"


def test_a_local_model_folder_is_mounted_read_only_and_the_engine_loads_it_from_the_mount(
    standin, make_deployer, model_dir, tmp_path
):
    deploy(make_deployer(), tmp_path)

    (body,) = standin.created()
    assert body["HostConfig"]["Mounts"] == [
        {"Target": "/models/tiny-llama", "Source": str(model_dir), "Type": "bind", "ReadOnly": True}
    ]
    assert not body["HostConfig"].get("Binds")
    assert value_after(body["Cmd"], "--model") == "/models/tiny-llama"
    assert value_after(body["Cmd"], "--served-model-name") == "tiny"


def test_a_local_tokenizer_folder_is_mounted_too(standin, make_deployer, tmp_path):
    tokenizer = tmp_path / "tok"
    tokenizer.mkdir()
    deploy(make_deployer(model_extra={"tokenizer": str(tokenizer)}), tmp_path)

    (body,) = standin.created()
    assert {"Target": "/models/tokenizer-tok", "Source": str(tokenizer), "Type": "bind", "ReadOnly": True} in (
        body["HostConfig"]["Mounts"]
    )
    assert value_after(body["Cmd"], "--tokenizer") == "/models/tokenizer-tok"


def test_a_hugging_face_id_is_passed_as_written_and_nothing_is_mounted(standin, tmp_path):
    spec = make_spec("meta-llama/Llama-3.1-8B-Instruct")
    deployer = DockerDeployer(spec, client=docker.DockerClient(base_url=standin.url, version="1.43"))

    deploy(deployer, tmp_path)

    (body,) = standin.created()
    assert not body["HostConfig"].get("Mounts")
    assert value_after(body["Cmd"], "--model") == "meta-llama/Llama-3.1-8B-Instruct"
    deployer.sweep("run1", include_live_owners=True)


def test_a_missing_model_folder_fails_before_anything_is_created(standin, make_deployer, model_dir, tmp_path):
    deployer = make_deployer()
    model_dir.rename(model_dir.with_name("elsewhere"))

    with pytest.raises(DeployError, match=f"{model_dir} does not exist"):
        deploy(deployer, tmp_path)
    assert not standin.created()


def test_a_model_folder_linking_outside_itself_is_refused(standin, make_deployer, model_dir, tmp_path):
    blob = tmp_path / "blobs" / "abc"
    blob.parent.mkdir()
    blob.write_text("weights")
    (model_dir / "model.safetensors").symlink_to(blob)

    with pytest.raises(DeployError, match="links outside"):
        deploy(make_deployer(), tmp_path)
    assert not standin.created()


def test_shared_memory_and_ipc_are_what_the_engines_need(standin, make_deployer, tmp_path):
    deploy(make_deployer(), tmp_path)
    deploy(make_deployer({"shm_size": "32g", "ipc_mode": "private"}), tmp_path, trial=1)

    default, custom = standin.created()
    assert default["HostConfig"]["IpcMode"] == "host"
    assert not default["HostConfig"].get("ShmSize")  # the daemon refuses a size for the host's /dev/shm
    assert custom["HostConfig"]["ShmSize"] == 32 * GIB
    assert custom["HostConfig"]["IpcMode"] == "private"


def test_the_entrypoint_is_the_engine_launcher_and_the_flags_are_an_argv_list(standin, make_deployer, tmp_path):
    deploy(
        make_deployer(), tmp_path, {"max-num-seqs": 4, "enable-prefix-caching": True, "enable-chunked-prefill": False}
    )

    (body,) = standin.created()
    assert body["Image"] == IMAGE
    assert body["Entrypoint"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    cmd = body["Cmd"]
    assert isinstance(cmd, list) and all(type(item) is str for item in cmd)
    assert value_after(cmd, "--max-num-seqs") == "4"
    assert value_after(cmd, "--max-model-len") == "512"
    for flag in ("--enable-prefix-caching", "--enforce-eager"):  # true: a bare flag
        position = cmd.index(flag)
        assert position + 1 == len(cmd) or cmd[position + 1].startswith("--")
    assert not any("chunked-prefill" in item for item in cmd)  # false: left out
    assert not {"True", "False", "true", "false"} & set(cmd)


def test_labels_name_the_run_the_trial_and_the_owner_as_strings(standin, make_deployer, tmp_path):
    deployment = deploy(make_deployer(), tmp_path, trial=3)

    labels = standin.created()[0]["Labels"]
    assert labels["servetune.run"] == "run1"
    assert labels["servetune.trial"] == "3"
    assert labels["servetune.label"] == deployment.label == "servetune/run1/trial-3"
    assert labels["servetune.owner"] == f"{socket.gethostname()}/{os.getpid()}"
    assert labels["servetune.log"] == deployment.log_path == str(tmp_path / "trial-3" / "engine.log")
    assert all(type(value) is str for value in labels.values())


def test_engine_env_and_proxies_reach_the_container_with_local_addresses_never_proxied(
    standin, make_deployer, tmp_path, monkeypatch
):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    monkeypatch.setenv("SOME_UNRELATED_VAR", "x")
    deploy(make_deployer(engine={"env": {"VLLM_LOGGING_LEVEL": "DEBUG"}}), tmp_path)

    env = dict(item.split("=", 1) for item in standin.created()[0]["Env"])
    assert env["VLLM_LOGGING_LEVEL"] == "DEBUG"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["HTTPS_PROXY"] == "http://proxy.corp:3128"
    for no_proxy in (env["NO_PROXY"], env["no_proxy"]):
        assert no_proxy.split(",")[:4] == ["internal.corp", "localhost", "127.0.0.1", "::1"]
    assert "SOME_UNRELATED_VAR" not in env and "PATH" not in env and "HOME" not in env


# ----- secrets


def test_a_passed_secret_reaches_the_container_and_nowhere_else(standin, make_deployer, tmp_path, hf_token):
    deployer = make_deployer(engine={"pass_env": ["HF_TOKEN"]})
    standin.log_lines = [(1, "INFO loading"), (2, f"DEBUG env HF_TOKEN={hf_token}"), (2, "ERROR no GPU found")]
    standin.behaviour = "exits"

    deployment = deploy(deployer, tmp_path)

    assert f"HF_TOKEN={hf_token}" in standin.created()[0]["Env"]
    preview = deployer.preview_command({"max-num-seqs": 4})
    for argv in (preview, deployment.command):  # named, so docker takes the value from the caller
        assert argv[argv.index("HF_TOKEN") - 1] == "--env"
    with pytest.raises(EngineExited) as failure:
        deployer.wait_ready(deployment, timeout=5)
    tail = deployer.logs(deployment)
    deployer.teardown(deployment)
    saved = Path(deployment.log_path).read_text()

    assert "ERROR no GPU found" in str(failure.value) and "ERROR no GPU found" in saved
    for text in (deployment.model_dump_json(), json.dumps(preview), str(failure.value), tail, saved):
        assert hf_token not in text
    assert "HF_TOKEN=***" in saved


def test_a_secret_echoed_in_a_daemon_error_is_scrubbed(standin, make_deployer, tmp_path, hf_token, monkeypatch):
    deployer = make_deployer(engine={"pass_env": ["HF_TOKEN"]})
    monkeypatch.setattr(
        standin, "_create", lambda query, body: (400, {"message": f"invalid environment: {body['Env']}"})
    )

    with pytest.raises(DeployError) as failure:
        deploy(deployer, tmp_path)

    assert "invalid environment" in str(failure.value)
    assert hf_token not in str(failure.value)


# ----- the engine's life


def test_a_ready_engine_passes_wait_ready_and_teardown_stops_it_and_saves_its_output(standin, make_deployer, tmp_path):
    standin.behaviour = "ready"
    deployer = make_deployer()
    deployment = deploy(deployer, tmp_path)

    assert deployer.wait_ready(deployment, timeout=10) < 10
    assert deployer.is_running(deployment)
    assert "Application startup complete." in deployer.logs(deployment)
    assert deployer.teardown(deployment) is True

    assert standin.find(deployment.handle.container) is None
    assert not deployer.is_running(deployment)
    saved = Path(deployment.log_path).read_text()
    assert "Application startup complete." in saved and "Shutting down" in saved


def test_an_engine_that_exits_at_once_fails_wait_ready_with_its_output_and_is_removed(standin, make_deployer, tmp_path):
    standin.behaviour = "exits"
    deployer = make_deployer()
    deployment = deploy(deployer, tmp_path)

    with pytest.raises(EngineExited) as failure:
        deployer.wait_ready(deployment, timeout=30)

    assert "ERROR CUDA out of memory: tried to allocate 2.00 GiB" in str(failure.value)
    assert "INFO starting the API server" in str(failure.value)
    assert deployer.teardown(deployment) is False  # it had already stopped
    assert standin.find(deployment.handle.container) is None
    assert not standin.calls("POST", r"/containers/.*/stop")
    saved = Path(deployment.log_path).read_text().splitlines()
    assert saved == ["INFO starting the API server", "ERROR CUDA out of memory: tried to allocate 2.00 GiB"]
    assert "CUDA out of memory" in deployer.logs(deployment)  # from the saved file, once it is gone


def test_an_engine_that_never_gets_ready_times_out_and_is_stopped_then_removed(standin, make_deployer, tmp_path):
    standin.behaviour = "running"  # nothing answers on the published port
    deployer = make_deployer()
    deployment = deploy(deployer, tmp_path)

    with pytest.raises(ReadyTimeout, match=r"not ready after 0\.3s"):
        deployer.wait_ready(deployment, timeout=0.3)

    assert deployer.teardown(deployment) is True
    (stop,) = standin.calls("POST", r"/containers/.*/stop")
    assert stop.query["t"] == "7"  # deployer.stop_grace
    (remove,) = standin.calls("DELETE", r"/containers/.*")
    assert remove.query["force"] == "True"
    assert standin.find(deployment.handle.container) is None
    assert "INFO Shutting down" in Path(deployment.log_path).read_text()


def test_teardown_twice_is_fine_and_keeps_the_saved_output(standin, make_deployer, tmp_path):
    deployer = make_deployer()
    deployment = deploy(deployer, tmp_path)

    assert deployer.teardown(deployment) is True
    saved = Path(deployment.log_path).read_text()
    assert deployer.teardown(deployment) is False
    assert Path(deployment.log_path).read_text() == saved != ""


def test_a_container_that_will_not_stop_is_still_removed_with_its_output_saved(
    standin, make_deployer, tmp_path, monkeypatch
):
    deployer = make_deployer()
    deployment = deploy(deployer, tmp_path)
    handle = standin._handle

    def stop_fails(method, path, query, body):
        if path.endswith("/stop"):
            return 500, {"message": "cannot stop container: tried to kill container, but did not receive an exit event"}
        return handle(method, path, query, body)

    monkeypatch.setattr(standin, "_handle", stop_fails)

    assert deployer.teardown(deployment) is True
    assert standin.find(deployment.handle.container) is None
    assert "INFO starting the API server" in Path(deployment.log_path).read_text()


def test_a_port_taken_at_start_is_a_transient_error_and_leaves_no_container(standin, make_deployer, tmp_path):
    standin.behaviour = "port-taken"

    with pytest.raises(TransientDeployError, match="port is already allocated"):
        deploy(make_deployer(), tmp_path)

    assert len(standin.created()) == 1
    assert not standin.containers


# ----- sweeping leftovers


def _leftover(standin, run_id, owner, log_path=None, name=None):
    client = docker.DockerClient(base_url=standin.url, version="1.43")
    labels = {"servetune.run": run_id, "servetune.trial": "0", "servetune.label": f"servetune/{run_id}/trial-0"}
    labels |= {"servetune.owner": owner} | ({"servetune.log": str(log_path)} if log_path else {})
    container = client.containers.create(IMAGE, name=name, labels=labels)
    container.start()
    return container.id


def _dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(process.stdout)


def test_sweep_of_a_run_removes_its_orphans_and_with_live_owners_all_of_its_containers(
    standin, make_deployer, tmp_path
):
    deployer = make_deployer()
    first, second = deploy(deployer, tmp_path, trial=0), deploy(deployer, tmp_path, trial=1)
    orphan = _leftover(standin, "run1", f"{socket.gethostname()}/{_dead_pid()}")
    other_run = _leftover(standin, "run2", f"{socket.gethostname()}/{_dead_pid()}")
    unrelated = docker.DockerClient(base_url=standin.url, version="1.43").containers.create(IMAGE, name="db").id

    assert deployer.sweep("run1") == ["servetune/run1/trial-0"]  # its own engines are still this process's
    assert orphan not in standin.containers
    assert {first.handle.container, second.handle.container} <= set(standin.containers)

    removed = deployer.sweep("run1", include_live_owners=True)

    assert sorted(removed) == [first.label, second.label]
    assert set(standin.containers) == {other_run, unrelated}
    assert "Shutting down" in Path(first.log_path).read_text()
    filters = [json.loads(r.query["filters"]) for r in standin.calls("GET", "/containers/json")]
    assert filters == [{"label": ["servetune.run=run1"]}] * 2


def test_sweep_without_a_run_removes_only_orphans_of_dead_processes_on_this_host(standin, make_deployer, tmp_path):
    host = socket.gethostname()
    orphan_log = tmp_path / "orphan" / "engine.log"
    orphan_log.parent.mkdir()
    orphan = _leftover(standin, "run3", f"{host}/{_dead_pid()}", log_path=orphan_log)
    live = _leftover(standin, "run4", f"{host}/{os.getpid()}")
    other_host = _leftover(standin, "run5", f"another-host.example/{_dead_pid()}")
    unrelated = docker.DockerClient(base_url=standin.url, version="1.43").containers.create(IMAGE, name="db").id

    removed = make_deployer().sweep()

    assert removed == ["servetune/run3/trial-0"]
    assert orphan not in standin.containers
    assert set(standin.containers) == {live, other_host, unrelated}
    assert "INFO starting the API server" in orphan_log.read_text()
    filters = [json.loads(r.query["filters"]) for r in standin.calls("GET", "/containers/json")]
    assert filters == [{"label": ["servetune.owner"]}]


# ----- images and the daemon


@pytest.mark.parametrize(
    ("image", "repository", "tag", "name"),
    [
        ("vllm/vllm-openai:v0.11.0", "vllm/vllm-openai", "v0.11.0", "vllm/vllm-openai:v0.11.0"),
        ("vllm/vllm-openai", "vllm/vllm-openai", "latest", "vllm/vllm-openai:latest"),
        (
            "registry.example.com:5000/org/img:tag",
            "registry.example.com:5000/org/img",
            "tag",
            "registry.example.com:5000/org/img:tag",
        ),
        ("registry.example.com:5000/org/img", "registry.example.com:5000/org/img", "latest", None),
        ("localhost:5000/img:1.0-rc", "localhost:5000/img", "1.0-rc", None),
        ("lmsysorg/sglang@sha256:" + "a" * 64, "lmsysorg/sglang", "sha256:" + "a" * 64, None),
        ("lmsysorg/sglang:v0.5@sha256:" + "b" * 64, "lmsysorg/sglang", "sha256:" + "b" * 64, None),
    ],
)
def test_image_reference_keeps_a_registry_port_and_a_digest(image, repository, tag, name):
    spec = DockerDeployerSpec(kind="docker", image=image)

    assert spec.image_reference == (repository, tag)
    if name:
        assert spec.image_name == name


@pytest.mark.parametrize("image", ["", "Vllm/Vllm-OpenAI:v1", "vllm/vllm openai", "img:bad tag", "img@sha256:xyz"])
def test_a_malformed_image_is_a_spec_error(image):
    with pytest.raises(ValueError, match="image"):
        DockerDeployerSpec(kind="docker", image=image)


def test_a_missing_image_is_pulled_by_repository_and_tag_even_from_a_registry_with_a_port(
    standin, make_deployer, tmp_path
):
    image = "registry.example.com:5000/org/vllm:v0.11.0"
    deploy(make_deployer({"image": image}), tmp_path)

    (pull,) = standin.calls("POST", "/images/create")
    assert pull.query == {"fromImage": "registry.example.com:5000/org/vllm", "tag": "v0.11.0"}
    assert standin.created()[0]["Image"] == image


def test_a_present_image_is_not_pulled_unless_asked(standin, make_deployer, tmp_path):
    deploy(make_deployer(), tmp_path, trial=0)
    assert not standin.calls("POST", "/images/create")

    deploy(make_deployer({"pull": "always"}), tmp_path, trial=1)
    assert len(standin.calls("POST", "/images/create")) == 1


def test_a_missing_image_with_pull_never_fails_and_says_how_to_fix_it(standin, make_deployer, tmp_path):
    with pytest.raises(DeployError, match=r"not on the Docker host.*docker pull vllm/vllm-openai:v0.12.0"):
        deploy(make_deployer({"image": "vllm/vllm-openai:v0.12.0", "pull": "never"}), tmp_path)
    assert not standin.calls("POST", "/images/create") and not standin.created()


def test_a_failed_pull_reports_the_registrys_reason(standin, make_deployer, tmp_path):
    standin.pull_errors["vllm/vllm-openai:v9"] = "manifest for vllm/vllm-openai:v9 not found: manifest unknown"

    with pytest.raises(DeployError, match=r"could not pull image vllm/vllm-openai:v9: manifest for .* not found"):
        deploy(make_deployer({"image": "vllm/vllm-openai:v9"}), tmp_path)
    assert not standin.created()


def test_docker_host_from_the_spec_is_the_daemon_used(standin, tmp_path, model_dir):
    deployer = DockerDeployer(make_spec(model_dir, {"docker_host": standin.url}))

    deployment = deploy(deployer, tmp_path)

    assert standin.calls("GET", "/version")  # the SDK negotiated its API version with this daemon
    assert standin.find(deployment.handle.container) is not None
    assert deployment.command[:3] == ["docker", "--host", standin.url]
    deployer.teardown(deployment)


def test_an_unreachable_daemon_is_a_deploy_error_naming_it(tmp_path, model_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    deployer = DockerDeployer(make_spec(model_dir, {"docker_host": closed}))

    with pytest.raises(DeployError, match=closed):
        deploy(deployer, tmp_path)


# ----- preview, example and docs


def test_preview_is_a_docker_run_command_without_secret_values(make_deployer, hf_token):
    deployer = make_deployer(engine={"pass_env": ["HF_TOKEN"], "env": {"VLLM_LOGGING_LEVEL": "DEBUG"}})

    argv = deployer.preview_command({"max-num-seqs": 4, "tensor-parallel-size": 2})

    assert argv[:3] == ["docker", "run", "--detach"]
    assert value_after(argv, "--gpus") == "2"
    assert value_after(argv, "--publish") == "127.0.0.1::8000"
    assert value_after(argv, "--ipc") == "host" and "--shm-size" not in argv
    assert "--env" in argv and "VLLM_LOGGING_LEVEL=DEBUG" in argv and "HF_TOKEN" in argv
    entry = argv.index("--entrypoint")
    assert argv[entry + 1 : entry + 5] == ["python3", IMAGE, "-m", "vllm.entrypoints.openai.api_server"]
    assert value_after(argv, "--tensor-parallel-size") == "2"
    assert hf_token not in " ".join(argv)


def test_preview_needs_no_daemon(model_dir):
    deployer = DockerDeployer(make_spec(model_dir, {"docker_host": "tcp://127.0.0.1:1"}))

    assert deployer.preview_command({"max-num-seqs": 2})[:2] == ["docker", "--host"]


def test_the_vllm_docker_example_loads_and_previews_a_docker_command():
    spec = load_spec(REPO / "examples" / "vllm-docker.yaml")
    configs = configurations(spec)
    argv = DockerDeployer(spec).preview_command(configs[0])

    assert isinstance(spec.deployer, DockerDeployerSpec)
    assert len(configs) >= 4 and any("tensor-parallel-size" in c for c in configs)
    assert argv[:2] == ["docker", "run"]
    assert spec.deployer.image in argv and ":" in spec.deployer.image
    assert "--gpus" in argv


def test_the_docker_docs_describe_every_deployer_field():
    docs = (REPO / "docs" / "deploy-docker.md").read_text()

    for name in DockerDeployerSpec.model_fields:
        assert f"`{name}`" in docs, f"docs/deploy-docker.md does not describe deployer.{name}"
