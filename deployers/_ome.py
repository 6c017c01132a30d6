"""The engine on Kubernetes, as an OME InferenceService: one per trial, deleted at teardown.

servetune renders ``templates/inferenceservice.yaml.j2`` for the trial. The InferenceService names the spec's
ClusterBaseModel (OME mounts its weights in the engine pod and sets ``MODEL_PATH``) and ClusterServingRuntime
(the image, CPU, memory, volumes and probes), and sets the runner container's command and args to the trial's
engine argv, with the trial's GPUs as the runner's GPU requests and limits.

It is ready when its ``Ready`` condition is ``True``, a pod of it is Running, and the engine answers
``/health`` and a one-token completion at the endpoint: the Service's address when servetune runs in the
cluster, else a local port that servetune relays to the engine pod through the API server's port-forward.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from deployers import _live_engines
from deployers._base import (
    Deployer,
    DeployError,
    Deployment,
    EngineExited,
    EngineHandle,
    ReadyTimeout,
    TransientDeployError,
)
from deployers._labels import OWNER, RUN, EngineLabels
from deployers._ome_manifest import MAX_NAME, kube_escape, label_value, render, resource_name, yaml_value
from deployers._port_forward import PortForwardRelay, Upstream
from tuning.runtime import process_group
from tuning.spec import Configuration, OmeDeployerSpec, TuningSpec

__all__ = [
    "MAX_NAME",
    "OmeDeployer",
    "OmeHandle",
    "PortForwardRelay",
    "label_value",
    "render",
    "resource_name",
    "yaml_value",
]

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "ome.io", "v1beta1", "inferenceservices"
#: The engine's model argument: Kubernetes expands it from the variable OME sets to the mounted weights.
MODEL_PATH_REF = "$(MODEL_PATH)"
#: The engine listens on every interface of its pod, so that the Service and a port-forward reach it.
LISTEN_HOST = "0.0.0.0"
#: The label OME puts on every pod of an InferenceService.
POD_LABEL = "ome.io/inferenceservice"
#: Beside the run, trial and owner every deployer writes (deployers._labels): the run's name, for people.
LABEL_NAME = "servetune.name"
# How the previous release labelled the owner; still read, so a sweep removes what it left behind.
_LEGACY_HOST, _LEGACY_PID = "servetune.owner-host", "servetune.owner-pid"

_REQUEST_TIMEOUT = (10.0, 60.0)  # connect, read: no API call may hang a phase past its own timeout
_TRANSIENT_STATUS = frozenset({0, 408, 429, 500, 502, 503, 504})
_SAVED_LOG_LINES = 20000
# Container states after which a trial's engine will not come up by waiting. ErrImagePull is left out: the
# kubelet retries it, and a registry hiccup should not fail a trial; a repeated failure becomes BackOff.
_FAILED_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


class OmeHandle(EngineHandle):
    """The trial's InferenceService."""

    kind: Literal["ome"] = "ome"
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"ome/{self.namespace}/{self.name}"

    @property
    def relay_key(self) -> str:
        return f"ome-relay/{self.namespace}/{self.name}"


# --- the deployer -------------------------------------------------------------------------------------------


@dataclass
class _Observation:
    """What the cluster says about one trial's InferenceService at one moment."""

    exists: bool
    ready: bool = False
    running_pod: k8s.V1Pod | None = None
    failure: str | None = None
    waiting: str = ""


def _meta(obj: k8s.V1Pod) -> k8s.V1ObjectMeta:
    return obj.metadata or k8s.V1ObjectMeta()


def _pod_name(pod: k8s.V1Pod) -> str:
    return _meta(pod).name or "?"


def _api_failure(what: str, exc: Exception) -> DeployError:
    if isinstance(exc, ApiException):
        detail = exc.reason or ""
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(exc.body or "{}").get("message") or detail
        hint = {
            401: " (check deployer.kubeconfig / deployer.context)",
            403: " (the kubeconfig user or service account needs RBAC for inferenceservices and pods; see "
            "docs/deploy-ome.md)",
        }.get(exc.status or 0, "")
        kind = TransientDeployError if (exc.status or 0) in _TRANSIENT_STATUS else DeployError
        return kind(f"{what}: HTTP {exc.status} {detail}{hint}".rstrip())
    return TransientDeployError(f"{what}: {type(exc).__name__}: {exc}")


def _load_api_client(settings: OmeDeployerSpec, in_cluster: bool) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    try:
        if in_cluster and not settings.kubeconfig:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(
                config_file=settings.kubeconfig, context=settings.context, client_configuration=configuration
            )
    except (k8s_config.ConfigException, OSError) as exc:
        raise DeployError(
            f"cannot load the Kubernetes configuration: {exc} "
            "(set deployer.kubeconfig / deployer.context, or run inside the cluster)"
        ) from exc
    return k8s.ApiClient(configuration)


def _orphaned(metadata: Mapping[str, Any]) -> bool:
    """Whether the servetune process that created a resource has ended; False when unknown or elsewhere."""
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    # The exact owner is an annotation: its label is escaped to what Kubernetes accepts.
    owner = annotations.get(OWNER)
    if owner is None and _LEGACY_HOST in labels and _LEGACY_PID in labels:
        owner = f"{labels[_LEGACY_HOST]}/{labels[_LEGACY_PID]}"
    engine = EngineLabels.from_dict(labels, owner=owner) if owner is not None else None
    return engine is not None and engine.orphaned()


class OmeDeployer(Deployer):
    kind: ClassVar[str] = "ome"
    # A sweep finds services by label; the base model and runtime are never read.
    sweep_defaults: ClassVar[dict[str, Any]] = {"base_model": "sweep", "serving_runtime": "sweep"}

    def __init__(self, spec: TuningSpec, api_client: k8s.ApiClient | None = None) -> None:
        """``api_client`` is for tests and embedders; by default it is built from the spec on first use."""
        super().__init__(spec)
        self._api_client = api_client
        # Port-forward relays this deployer opened, by (namespace, name): deploy opens one, teardown closes it.
        self._relays: dict[tuple[str, str], PortForwardRelay] = {}

    @property
    def settings(self) -> OmeDeployerSpec:
        assert isinstance(self.spec.deployer, OmeDeployerSpec)
        return self.spec.deployer

    @property
    def in_cluster(self) -> bool:
        if self.settings.in_cluster is not None:
            return self.settings.in_cluster
        return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))

    @property
    def api_client(self) -> k8s.ApiClient:
        if self._api_client is None:
            self._api_client = _load_api_client(self.settings, self.in_cluster)
        return self._api_client

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=_REQUEST_TIMEOUT, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _api_failure(what, exc) from exc

    @property
    def _custom(self) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api_client)

    @property
    def _core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api_client)

    # -- what runs in the pod --

    def container_command(self) -> list[str]:
        if self.settings.command:
            return list(self.settings.command)
        launcher = getattr(self.engine, "container_launcher", None)
        if not launcher:
            raise DeployError(f"no container entrypoint is known for engine {self.engine.name}; set deployer.command")
        return list(launcher)

    def engine_args(self, params: Configuration) -> list[str]:
        """The engine's flags in the pod: the model from ``MODEL_PATH``, listening on every interface at
        ``deployer.port``. The tokenizer is the model's own: a local ``model.tokenizer`` is servetune's."""
        model = self.spec.model.model_copy(update={"tokenizer": None})
        return self.engine.server_args(model, params, LISTEN_HOST, self.settings.port, model_path=MODEL_PATH_REF)

    def preview_command(self, params: Configuration) -> list[str]:
        """The engine container's argv as it runs in the pod (``$(MODEL_PATH)`` is the mounted model)."""
        return self.container_command() + self.engine_args(params)

    def labels(self, run_id: str, trial_number: int) -> dict[str, str]:
        engine = EngineLabels(run_id=run_id, trial_number=trial_number)
        return {LABEL_NAME: label_value(self.spec.name)} | {
            key: label_value(value) for key, value in engine.as_dict().items()
        }

    def manifest(self, run_id: str, trial_number: int, params: Configuration) -> dict[str, Any]:
        """The trial's InferenceService, as sent to the API server."""
        settings = self.settings
        args = self.engine_args(params)
        env = self.engine.env() | self.spec.engine.env
        gpus = self.engine.gpu_count(params)
        return render(
            "inferenceservice.yaml.j2",
            name=resource_name(self.spec.name, run_id, trial_number),
            namespace=settings.namespace,
            labels=self.labels(run_id, trial_number),
            annotations={
                OWNER: EngineLabels(run_id=run_id, trial_number=trial_number).owner,
                "servetune.params": json.dumps(params, sort_keys=True),
                "servetune.command": shlex.join(self.container_command() + args),
            },
            base_model=settings.base_model,
            serving_runtime=settings.serving_runtime,
            container_name=settings.container_name,
            image=settings.image,
            command=[kube_escape(item) for item in self.container_command()],
            args=[item if item == MODEL_PATH_REF else kube_escape(item) for item in args],
            env=[{"name": name, "value": kube_escape(value)} for name, value in sorted(env.items())],
            gpu_resources={settings.gpu_resource: str(gpus)},
        )

    # -- lifecycle --

    def deploy(
        self,
        run_id: str,
        trial_number: int,
        params: Configuration,
        workdir: Path,
        devices: list[str] | None = None,
    ) -> Deployment:
        # ``devices`` is not used: the Kubernetes scheduler places the pod on free GPUs.
        if self.spec.engine.pass_env:
            raise DeployError(
                "engine.pass_env is not supported by the ome deployer: it would copy secret values into the "
                "InferenceService. Give the engine a Kubernetes Secret in the ClusterServingRuntime's env instead."
            )
        body = self.manifest(run_id, trial_number, params)
        namespace, name = self.settings.namespace, body["metadata"]["name"]
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            # Strict: an unknown field is an error, not a setting the API server silently drops.
            self._custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                body,
                field_manager="servetune",
                field_validation="Strict",
                _request_timeout=_REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status == 409:
                # An earlier attempt of this deploy created it: remove it, so that the retry starts clean.
                self._delete(namespace, name)
                raise TransientDeployError(
                    f"InferenceService {namespace}/{name} already existed; deleted it for a clean retry"
                ) from exc
            raise _api_failure(f"creating InferenceService {namespace}/{name}", exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _api_failure(f"creating InferenceService {namespace}/{name}", exc) from exc
        handle = OmeHandle(namespace=namespace, name=name)
        _live_engines.register(handle.key, functools.partial(self._delete_at_exit, namespace, name))
        if self.in_cluster:
            endpoint = f"http://{name}.{namespace}.svc:{self.settings.service_port}"
        else:
            relay = PortForwardRelay(lambda: self._forward_to_pod(namespace, name))
            self._relays[(namespace, name)] = relay
            _live_engines.register(handle.relay_key, relay.close)
            endpoint = relay.url
        log.info("created InferenceService %s/%s; engine endpoint %s", namespace, name, endpoint)
        return Deployment(
            run_id=run_id,
            trial_number=trial_number,
            label=self.label(run_id, trial_number),
            endpoint=endpoint,
            command=self.preview_command(params),
            log_path=str(workdir / "engine.log"),
            handle=handle,
            gpus=self.engine.gpu_count(params),
        )

    def _forward_to_pod(self, namespace: str, name: str) -> Upstream:
        """A stream to the engine port of the InferenceService's running pod, through the API server."""
        from kubernetes.stream import portforward

        pod = self._observe(namespace, name).running_pod
        if pod is None:
            raise ConnectionError(f"no running pod for {namespace}/{name} yet")
        port = self.settings.port
        forward = portforward(
            self._core.connect_get_namespaced_pod_portforward, _pod_name(pod), namespace, ports=str(port)
        )
        stream = forward.socket(port)
        stream.setblocking(True)
        return stream, forward.close

    def _pods(self, namespace: str, name: str) -> list[k8s.V1Pod]:
        pods = self._call(
            f"listing the pods of {namespace}/{name}",
            self._core.list_namespaced_pod,
            namespace,
            label_selector=f"{POD_LABEL}={name}",
        )
        return list(pods.items or [])

    def _engine_status(self, pod: k8s.V1Pod) -> k8s.V1ContainerStatus | None:
        statuses = (pod.status.container_statuses or []) if pod.status else []
        named = [s for s in statuses if s.name == self.settings.container_name]
        return (named or statuses)[0] if named or statuses else None

    def _pod_failure(self, pod: k8s.V1Pod) -> str | None:
        """Why this pod's engine will not come up by waiting, or None."""
        pod_name, status = _pod_name(pod), pod.status
        if status is None:
            return None
        if status.phase == "Failed":
            return f"pod {pod_name} failed: {status.reason or ''} {status.message or ''}".rstrip()
        for init in status.init_container_statuses or []:
            waiting = init.state.waiting if init.state else None
            if waiting and waiting.reason in _FAILED_WAITING:
                return f"pod {pod_name}: init container {init.name} {waiting.reason}: {waiting.message or ''}".rstrip()
        engine = self._engine_status(pod)
        if engine is None:
            return None
        state = engine.state
        if state and state.waiting and state.waiting.reason in _FAILED_WAITING:
            return f"pod {pod_name}: engine container {state.waiting.reason}: {state.waiting.message or ''}".rstrip()
        if state and state.terminated and state.terminated.exit_code != 0:
            ended = state.terminated
            return f"pod {pod_name}: engine container exited with code {ended.exit_code} ({ended.reason or '?'})"
        if engine.restart_count:
            last = engine.last_state.terminated if engine.last_state else None
            code = f" with code {last.exit_code} ({last.reason or '?'})" if last else ""
            return f"pod {pod_name}: engine container restarted {engine.restart_count} time(s); it exited{code}"
        return None

    def _observe(self, namespace: str, name: str) -> _Observation:
        try:
            service = cast(
                dict[str, Any],
                self._custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, _request_timeout=_REQUEST_TIMEOUT
                ),
            )
        except ApiException as exc:
            if exc.status == 404:
                return _Observation(exists=False, failure=f"InferenceService {namespace}/{name} is gone")
            raise _api_failure(f"reading InferenceService {namespace}/{name}", exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _api_failure(f"reading InferenceService {namespace}/{name}", exc) from exc
        status = service.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
        ready = conditions.get("Ready", {})
        seen = _Observation(exists=True, ready=ready.get("status") == "True")
        model_status = status.get("modelStatus") or {}
        if model_status.get("transitionStatus") == "BlockedByFailedLoad":
            failure = model_status.get("lastFailureInfo") or {}
            seen.failure = f"OME reports the model failed to load: {failure.get('message') or failure or '?'}"
            return seen
        pods = [p for p in self._pods(namespace, name) if not _meta(p).deletion_timestamp]
        for pod in pods:
            if failure := self._pod_failure(pod):
                seen.failure = failure
                return seen
        running = [p for p in pods if p.status and p.status.phase == "Running"]
        seen.running_pod = running[0] if running else None
        if not seen.ready:
            why = ": ".join(filter(None, (ready.get("reason"), ready.get("message"))))
            seen.waiting = f"InferenceService not Ready ({why or 'no Ready condition yet'})"
        elif not pods:
            seen.waiting = "InferenceService Ready but it has no engine pod"
        elif seen.running_pod is None:
            seen.waiting = f"engine pod {_pod_name(pods[0])} is {pods[0].status.phase if pods[0].status else '?'}"
        return seen

    def wait_ready(self, deployment: Deployment, timeout: float) -> float:
        """Wait for the Ready condition and a running pod, then for the shared probe (``/health`` and a
        one-token completion), all within ``timeout``."""
        namespace, name = self._where(deployment)
        started = time.monotonic()
        deadline = started + timeout
        while True:
            seen = self._observe(namespace, name)
            if seen.failure:
                self._save_log(deployment)
                raise EngineExited(
                    f"{seen.failure}; last lines of the engine log ({deployment.log_path}):\n"
                    f"{self.logs(deployment, 30)}"
                )
            if seen.ready and seen.running_pod is not None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadyTimeout(f"the engine was not ready after {timeout:g}s: {seen.waiting}")
            time.sleep(min(self.settings.poll_interval, remaining))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadyTimeout(f"the engine was not ready after {timeout:g}s: its pod runs but was not probed")
        try:
            super().wait_ready(deployment, remaining)
        except ReadyTimeout as exc:
            raise ReadyTimeout(
                f"the engine was not ready after {timeout:g}s: the InferenceService is Ready, but {exc}"
            ) from exc
        return time.monotonic() - started

    @staticmethod
    def _where(deployment: Deployment) -> tuple[str, str]:
        """The namespace and name of the deployment's InferenceService."""
        if not isinstance(deployment.handle, OmeHandle):
            raise DeployError(f"{deployment.label} was not deployed by the ome deployer")
        return deployment.handle.namespace, deployment.handle.name

    def is_running(self, deployment: Deployment) -> bool:
        seen = self._observe(*self._where(deployment))
        return seen.exists and seen.failure is None

    # -- logs --

    def _read_log(self, pod: k8s.V1Pod, tail: int, previous: bool) -> str:
        engine = self._engine_status(pod)
        try:
            return self._core.read_namespaced_pod_log(
                _pod_name(pod),
                _meta(pod).namespace or self.settings.namespace,
                container=engine.name if engine else self.settings.container_name,
                tail_lines=tail,
                previous=previous,
                _request_timeout=_REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status in (400, 404):  # the container has not started (or has no previous run)
                return ""
            raise _api_failure(f"reading the log of pod {_pod_name(pod)}", exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _api_failure(f"reading the log of pod {_pod_name(pod)}", exc) from exc

    def _log_pod(self, namespace: str, name: str) -> k8s.V1Pod | None:
        """The pod whose log tells the story: a failed one first, else a running one, else the newest."""
        pods = self._pods(namespace, name)
        if not pods:
            return None
        failed = [p for p in pods if self._pod_failure(p)]
        running = [p for p in pods if p.status and p.status.phase == "Running"]
        return (failed or running or sorted(pods, key=lambda p: str(_meta(p).creation_timestamp or "")))[-1]

    def _pod_log(self, pod: k8s.V1Pod, tail: int) -> str:
        """The engine's log; after a crash, the crashed container's, then the current one's."""
        engine = self._engine_status(pod)
        current = self._read_log(pod, tail, previous=False)
        if not (engine and engine.restart_count):
            return current
        crashed = self._read_log(pod, tail, previous=True)
        if not current.strip():
            return crashed
        both = f"{crashed.rstrip()}\n--- the engine container restarted; its current log: ---\n{current}"
        return "\n".join(both.splitlines()[-tail:]) + "\n"

    def logs(self, deployment: Deployment, tail: int = 60) -> str:
        """The engine pod's log through the API while it exists, else the copy saved at teardown."""
        try:
            pod = self._log_pod(*self._where(deployment))
            text = self._pod_log(pod, tail) if pod is not None else ""
        except DeployError as exc:
            log.debug("engine log unavailable from the API: %s", exc)
            text = ""
        return text if text.strip() else process_group.tail(Path(deployment.log_path), tail)

    def _save_log(self, deployment: Deployment) -> None:
        """Keep the engine's log in the trial's folder, so it outlives the pod."""
        try:
            pod = self._log_pod(*self._where(deployment))
            text = self._pod_log(pod, _SAVED_LOG_LINES) if pod is not None else ""
        except DeployError as exc:
            log.warning("could not save the engine log of %s: %s", deployment.label, exc)
            return
        if text.strip():
            Path(deployment.log_path).parent.mkdir(parents=True, exist_ok=True)
            Path(deployment.log_path).write_text(text)

    # -- removal --

    def _delete(self, namespace: str, name: str) -> bool:
        """Delete one InferenceService; True if it existed."""
        handle = OmeHandle(namespace=namespace, name=name)
        self._relays.pop((namespace, name), None)
        _live_engines.stop(handle.relay_key)  # whichever deployer in this process opened it
        try:
            self._custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=_REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status != 404:
                raise _api_failure(f"deleting InferenceService {namespace}/{name}", exc) from exc
            existed = False
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _api_failure(f"deleting InferenceService {namespace}/{name}", exc) from exc
        else:
            existed = True
        _live_engines.unregister(handle.key)
        return existed

    def _delete_at_exit(self, namespace: str, name: str) -> None:
        # The interpreter is exiting: wait briefly (the next run's sweep retries what this misses).
        self._custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, _request_timeout=5)

    def _wait_pods_gone(self, namespace: str, name: str) -> bool:
        deadline = time.monotonic() + self.settings.delete_timeout
        while pods := self._pods(namespace, name):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning(
                    "pods of %s/%s still there %gs after deletion: %s",
                    namespace,
                    name,
                    self.settings.delete_timeout,
                    [_pod_name(p) for p in pods],
                )
                return False
            time.sleep(min(self.settings.poll_interval, remaining))
        return True

    def teardown(self, deployment: Deployment) -> bool:
        """Save the engine log, delete the InferenceService and wait (up to ``delete_timeout``) for its pods to
        go. Never raises: a failure is logged, and the run's final sweep deletes what is left."""
        namespace, name = self._where(deployment)
        self._save_log(deployment)
        try:
            existed = self._delete(namespace, name)
            self._wait_pods_gone(namespace, name)
        except DeployError as exc:
            log.warning("teardown of InferenceService %s/%s: %s", namespace, name, exc)
            return False
        return existed

    def sweep(self, run_id: str | None = None, include_live_owners: bool = False) -> list[str]:
        """Delete the InferenceServices (of ``run_id``, or of any run) whose servetune process has died; with
        ``include_live_owners``, all of them. A process on another machine cannot be checked: its services
        count as live. Returns ``namespace/name`` of each one deleted."""
        namespace = self.settings.namespace
        selector = f"{RUN}={label_value(run_id)}" if run_id else RUN
        found = self._call(
            f"listing InferenceServices in {namespace}",
            self._custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            label_selector=selector,
        )
        removed = []
        for item in found.get("items") or []:
            metadata = item.get("metadata") or {}
            if not include_live_owners and not _orphaned(metadata):
                continue
            if self._delete(namespace, metadata["name"]):
                removed.append(f"{namespace}/{metadata['name']}")
        return removed
