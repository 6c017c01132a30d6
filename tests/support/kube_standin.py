"""A stand-in for the Kubernetes API server, for testing the OME deployer where no cluster can run.

No Kubernetes API server (nor kind, nor a container runtime) can run here, so this small in-process HTTP
server (a thread on 127.0.0.1, port 0) answers the REST paths the OME deployer uses, and is driven through the
real ``kubernetes`` client (``ApiClient`` with a ``Configuration`` whose host is this server). It follows the
Kubernetes API conventions for these resources:

- ``/apis/ome.io/v1beta1/namespaces/{ns}/inferenceservices``: POST creates (201; 409 ``AlreadyExists``), GET
  lists, filtered by ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k`` terms, comma-separated);
  ``.../{name}``: GET reads and DELETE deletes (404 ``NotFound`` with a ``Status`` body when missing).
  A created body is validated against the CRD's ``openAPIV3Schema`` from ``infra/ome-crds/``, with objects
  closed (see ``closed_schema``), as the API server does with ``fieldValidation=Strict``: an unknown field is
  400 ``BadRequest``, any other schema error 422 ``Invalid``. ``metadata`` gets the checks the API server makes
  (name a DNS-1123 label here, since OME derives Service names from it; label keys and values; annotations
  strings). Unlike the API server, it also rejects unknown fields when the client does not ask for Strict;
  the tests check that the deployer asks for it.
- ``/api/v1/namespaces/{ns}/pods``: GET lists pods, filtered by ``labelSelector``.
- ``/api/v1/namespaces/{ns}/pods/{name}/log``: GET returns the container's log as text; ``tailLines``,
  ``previous`` (400 when there is no previous container) and ``container`` are honoured.
- ``/api/v1/namespaces/{ns}/pods/{name}/portforward?ports=P``: the WebSocket port-forward the client's
  ``kubernetes.stream.portforward`` speaks (subprotocol ``v4.channel.k8s.io``: per port a data channel 2i and
  an error channel 2i+1, each opened by a frame holding the port as two little-endian bytes; every binary
  frame starts with its channel byte). The pod's "port" is a local TCP address the test registers.

The cluster's own behaviour (OME's controller, the kubelet, the garbage collector) is scripted by the test:
``on_create`` runs after an InferenceService is created, ``after(n, action)`` runs an action after n more pod
list requests (the deployer polls pods, so a script advances with the polling and needs no sleeping),
``set_ready``/``add_pod`` change status, and deleting an InferenceService deletes its pods (label
``ome.io/inferenceservice``) after ``pod_linger_lists`` further pod lists, as the garbage collector would.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import select
import socket
import struct
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml
from kubernetes import client as k8s

from tests.support.http_standin import StandInHandler
from tests.support.paths import REPO

CRD_DIR = REPO / "infra" / "ome-crds"
POD_LABEL = "ome.io/inferenceservice"
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


# --- the CRD schema, closed ----------------------------------------------------------------------------------


def closed_schema(node: Any) -> Any:
    """A copy of a Kubernetes structural schema that JSON Schema validates as strictly as the API server.

    Structural schemas never say ``additionalProperties: false``; the API server treats every field it does
    not know as unknown (pruned, or rejected with fieldValidation=Strict). So every object with
    ``properties`` and neither ``additionalProperties`` nor ``x-kubernetes-preserve-unknown-fields`` is closed.
    ``x-kubernetes-int-or-string`` becomes ``anyOf: [integer, string]`` where the schema does not spell it out.
    """
    if isinstance(node, list):
        return [closed_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: closed_schema(value) for key, value in node.items()}
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_schema(filename: str, version: str = "v1beta1") -> dict[str, Any]:
    """The closed ``openAPIV3Schema`` of the served ``version`` of a CRD in ``infra/ome-crds/``."""
    crd = yaml.load((CRD_DIR / filename).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    served = [v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served")]
    if not served:
        raise LookupError(f"{filename} serves no version {version}")
    return closed_schema(served[0]["schema"]["openAPIV3Schema"])


def schema_errors(manifest: dict[str, Any], filename: str = "ome.io_inferenceservices.yaml") -> list[str]:
    """Every way ``manifest`` breaks the CRD schema (and the ObjectMeta rules), as ``path: message`` lines."""
    validator = jsonschema.Draft7Validator(crd_schema(filename))
    errors = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    ]
    return errors + _metadata_errors(manifest.get("metadata") or {})


def unknown_field_errors(manifest: dict[str, Any], filename: str = "ome.io_inferenceservices.yaml") -> list[str]:
    validator = jsonschema.Draft7Validator(crd_schema(filename))
    return [
        f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(manifest)
        if e.validator == "additionalProperties"
    ]


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME.match(name))


def _metadata_errors(metadata: dict[str, Any]) -> list[str]:
    errors = []
    name = metadata.get("name")
    if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL.match(name):
        errors.append(f"metadata.name: {name!r} is not a DNS-1123 label (at most 63 of a-z, 0-9, '-')")
    for key, value in (metadata.get("labels") or {}).items():
        if not _label_key_ok(key):
            errors.append(f"metadata.labels: {key!r} is not a label key")
        if not isinstance(value, str) or (value and (len(value) > 63 or not _LABEL_NAME.match(value))):
            errors.append(f"metadata.labels.{key}: {value!r} is not a label value")
    for key, value in (metadata.get("annotations") or {}).items():
        if not isinstance(value, str):
            errors.append(f"metadata.annotations.{key}: {value!r} is not a string")
    return errors


# --- label selectors ---------------------------------------------------------------------------------------


def selects(selector: str | None, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


# --- WebSocket framing (RFC 6455), just what the port-forward needs ---------------------------------------


def _ws_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def _ws_parse(buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """(opcode, payload, rest) of the first whole frame in ``buffer``, or None while it is incomplete."""
    if len(buffer) < 2:
        return None
    opcode, masked, size, at = buffer[0] & 0x0F, buffer[1] & 0x80, buffer[1] & 0x7F, 2
    if size == 126:
        if len(buffer) < 4:
            return None
        size, at = struct.unpack("!H", buffer[2:4])[0], 4
    elif size == 127:
        if len(buffer) < 10:
            return None
        size, at = struct.unpack("!Q", buffer[2:10])[0], 10
    mask = b""
    if masked:
        if len(buffer) < at + 4:
            return None
        mask, at = buffer[at : at + 4], at + 4
    if len(buffer) < at + size:
        return None
    payload = buffer[at : at + size]
    if mask:
        payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return opcode, payload, buffer[at + size :]


# --- the server --------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class KubeStandIn:
    """The stand-in API server: its state, the scripting hooks, and the HTTP thread."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.pod_logs: dict[tuple[str, str, bool], str] = {}  # (namespace, pod, previous) -> text
        self.forwards: dict[tuple[str, str], tuple[str, int]] = {}  # (namespace, pod) -> local TCP address
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.created: list[dict[str, Any]] = []
        self.on_create: Callable[[dict[str, Any]], None] | None = None
        self.pod_linger_lists = 0
        self.failures: list[tuple[str, str, int, str]] = []  # (method, path regex, status, message), used once
        self._scheduled: list[list[Any]] = []  # [pod lists to go, action]
        self._lingering: dict[tuple[str, str], int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="kube stand-in", daemon=True)

    # -- lifecycle --

    def start(self) -> KubeStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def api_client(self) -> k8s.ApiClient:
        """A real kubernetes ApiClient pointed at this server."""
        configuration = k8s.Configuration()
        configuration.host = self.url
        return k8s.ApiClient(configuration)

    # -- scripting the cluster --

    def after(self, pod_lists: int, action: Callable[[], None]) -> None:
        """Run ``action`` once ``pod_lists`` more pod list requests have been answered."""
        with self.lock:
            self._scheduled.append([pod_lists, action])

    def fail_next(self, method: str, path_pattern: str, status: int, message: str) -> None:
        """Answer the next request matching ``method`` and ``path_pattern`` with an error ``Status``."""
        with self.lock:
            self.failures.append((method, path_pattern, status, message))

    def set_ready(self, namespace: str, name: str, ready: bool = True, reason: str = "", message: str = "") -> None:
        with self.lock:
            service = self.services[(namespace, name)]
            condition = {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": _now()}
            if reason:
                condition["reason"] = reason
            if message:
                condition["message"] = message
            status = service.setdefault("status", {})
            status["conditions"] = [condition]
            status["url"] = f"http://{name}.{namespace}.svc.cluster.local:8080"

    def add_pod(
        self,
        namespace: str,
        service: str,
        phase: str = "Running",
        container: str = "ome-container",
        waiting: str | None = None,
        restarts: int = 0,
        exit_code: int | None = None,
        log: str = "",
        previous_log: str | None = None,
        forward_to: tuple[str, int] | None = None,
    ) -> str:
        """A pod of InferenceService ``service`` as the kubelet would report it; returns its name."""
        name = f"{service}-engine-{uuid.uuid4().hex[:5]}"
        state: dict[str, Any] = {"running": {"startedAt": _now()}} if phase == "Running" and not waiting else {}
        if waiting:
            state = {"waiting": {"reason": waiting, "message": f"back-off restarting {container}"}}
        if exit_code is not None:
            state = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
        status: dict[str, Any] = {
            "name": container,
            "image": "docker.io/vllm/vllm-openai:v0.11.0",
            "imageID": "",
            "ready": phase == "Running" and not waiting,
            "restartCount": restarts,
            "state": state,
        }
        if restarts:
            status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {POD_LABEL: service, "component": "engine"},
                "uid": str(uuid.uuid4()),
                "creationTimestamp": _now(),
            },
            "spec": {"containers": [{"name": container, "image": status["image"]}]},
            "status": {"phase": phase, "containerStatuses": [status]},
        }
        with self.lock:
            self.pods[(namespace, name)] = pod
            self.pod_logs[(namespace, name, False)] = log
            if previous_log is not None:
                self.pod_logs[(namespace, name, True)] = previous_log
            if forward_to is not None:
                self.forwards[(namespace, name)] = forward_to
        return name

    def pods_of(self, namespace: str, service: str) -> list[str]:
        with self.lock:
            return [
                n
                for (ns, n), p in self.pods.items()
                if ns == namespace and p["metadata"]["labels"].get(POD_LABEL) == service
            ]

    # -- request handling (called from the HTTP thread) --

    def _injected_failure(self, method: str, path: str) -> tuple[int, dict[str, Any]] | None:
        with self.lock:
            for failure in self.failures:
                if failure[0] == method and re.search(failure[1], path):
                    self.failures.remove(failure)
                    reason = {400: "BadRequest", 403: "Forbidden", 422: "Invalid", 503: "ServiceUnavailable"}
                    return failure[2], _status(failure[2], reason.get(failure[2], "Failure"), failure[3])
        return None

    def _pod_list_tick(self) -> None:
        due = []
        with self.lock:
            for entry in self._scheduled:
                entry[0] -= 1
                if entry[0] <= 0:
                    due.append(entry)
            for entry in due:
                self._scheduled.remove(entry)
            for key in list(self._lingering):
                self._lingering[key] -= 1
                if self._lingering[key] < 0:
                    del self._lingering[key]
                    self.pods.pop(key, None)
        for entry in due:
            entry[1]()

    def create_service(self, namespace: str, body: dict[str, Any], query: dict[str, list[str]]) -> tuple[int, Any]:
        kind = body.get("kind")
        if body.get("apiVersion") != "ome.io/v1beta1" or kind != "InferenceService":
            return 400, _status(400, "BadRequest", f"expected ome.io/v1beta1 InferenceService, got {kind}")
        name = (body.get("metadata") or {}).get("name", "")
        unknown = unknown_field_errors(body)
        if unknown:
            return 400, _status(400, "BadRequest", "strict decoding error: " + "; ".join(unknown))
        errors = schema_errors(body)
        if errors:
            return 422, _status(422, "Invalid", f'InferenceService.ome.io "{name}" is invalid: ' + "; ".join(errors))
        if body["metadata"].get("namespace", namespace) != namespace:
            return 400, _status(400, "BadRequest", "the namespace of the object does not match the request")
        with self.lock:
            if (namespace, name) in self.services:
                return 409, _status(409, "AlreadyExists", f'inferenceservices.ome.io "{name}" already exists')
            stored = copy.deepcopy(body)
            stored["metadata"].update(
                namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now(), resourceVersion="1", generation=1
            )
            self.services[(namespace, name)] = stored
            self.created.append(copy.deepcopy(body))
        if self.on_create is not None:
            self.on_create(stored)
        return 201, stored

    def delete_service(self, namespace: str, name: str) -> tuple[int, Any]:
        with self.lock:
            if self.services.pop((namespace, name), None) is None:
                return 404, _status(404, "NotFound", f'inferenceservices.ome.io "{name}" not found')
            for key, pod in list(self.pods.items()):
                if key[0] == namespace and pod["metadata"]["labels"].get(POD_LABEL) == name:
                    pod["metadata"]["deletionTimestamp"] = _now()
                    self._lingering[key] = self.pod_linger_lists
                    if self.pod_linger_lists <= 0:
                        del self._lingering[key]
                        del self.pods[key]
        return 200, _status(200, "", f'inferenceservices.ome.io "{name}" deleted')


def _handler(standin: KubeStandIn) -> type[BaseHTTPRequestHandler]:
    services = re.compile(r"^/apis/ome\.io/v1beta1/namespaces/([^/]+)/inferenceservices(?:/([^/]+))?$")
    pods = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
    pod_sub = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/(log|portforward)$")

    class Handler(StandInHandler):
        def _reply(self, code: int, payload: Any, content_type: str = "application/json") -> None:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size else b""
            return json.loads(raw) if raw.strip() else None

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path, query = parts.path, parse_qs(parts.query)
            with standin.lock:
                standin.requests.append((method, path, query))
            body = self._body() if method in ("POST", "DELETE") else None
            if failure := standin._injected_failure(method, path):
                return self._reply(*failure)
            if match := services.match(path):
                namespace, name = match.groups()
                selector = (query.get("labelSelector") or [""])[0]
                if method == "POST" and name is None:
                    return self._reply(*standin.create_service(namespace, body or {}, query))
                if method == "GET" and name is None:
                    with standin.lock:
                        items = [
                            copy.deepcopy(s)
                            for (ns, _), s in standin.services.items()
                            if ns == namespace and selects(selector, s["metadata"].get("labels") or {})
                        ]
                    listing = {"apiVersion": "ome.io/v1beta1", "kind": "InferenceServiceList", "items": items}
                    return self._reply(200, listing | {"metadata": {"resourceVersion": "1"}})
                if method == "GET":
                    with standin.lock:
                        found = copy.deepcopy(standin.services.get((namespace, name)))
                    if found is None:
                        return self._reply(
                            404, _status(404, "NotFound", f'inferenceservices.ome.io "{name}" not found')
                        )
                    return self._reply(200, found)
                if method == "DELETE":
                    return self._reply(*standin.delete_service(namespace, name))
            if (match := pods.match(path)) and method == "GET":
                standin._pod_list_tick()
                selector = (query.get("labelSelector") or [""])[0]
                with standin.lock:
                    items = [
                        copy.deepcopy(p)
                        for (ns, _), p in standin.pods.items()
                        if ns == match.group(1) and selects(selector, p["metadata"]["labels"])
                    ]
                return self._reply(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
            if (match := pod_sub.match(path)) and method == "GET":
                namespace, pod, what = match.groups()
                if what == "portforward":
                    return self._portforward(namespace, pod, query)
                previous = (query.get("previous") or ["false"])[0] == "true"
                with standin.lock:
                    exists = (namespace, pod) in standin.pods
                    text = standin.pod_logs.get((namespace, pod, previous))
                if not exists:
                    return self._reply(404, _status(404, "NotFound", f'pods "{pod}" not found'))
                if text is None:
                    message = f'previous terminated container in pod "{pod}" not found'
                    return self._reply(400, _status(400, "BadRequest", message))
                tail = int((query.get("tailLines") or ["0"])[0])
                lines = text.splitlines(keepends=True)
                return self._reply(200, "".join(lines[-tail:] if tail else lines), "text/plain")
            return self._reply(404, _status(404, "NotFound", f"the server could not find {method} {path}"))

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def _portforward(self, namespace: str, pod: str, query: dict[str, list[str]]) -> None:
            key = self.headers.get("Sec-WebSocket-Key")
            if (self.headers.get("Upgrade") or "").lower() != "websocket" or not key:
                return self._reply(400, _status(400, "BadRequest", "port-forward needs a WebSocket upgrade"))
            with standin.lock:
                exists = (namespace, pod) in standin.pods
                target = standin.forwards.get((namespace, pod))
            if not exists:
                return self._reply(404, _status(404, "NotFound", f'pods "{pod}" not found'))
            port = int((query.get("ports") or ["0"])[0])
            accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
            self.end_headers()
            self.close_connection = True
            ws = self.connection
            opening = struct.pack("<H", port)
            ws.sendall(_ws_frame(b"\x00" + opening) + _ws_frame(b"\x01" + opening))
            try:
                upstream = socket.create_connection(target, timeout=5) if target else None
            except OSError as exc:
                upstream, target = None, None
                reason = str(exc)
            else:
                reason = "no process listens on the port"
            if upstream is None:
                ws.sendall(_ws_frame(b"\x01" + f"error forwarding port {port} to pod {pod}: {reason}".encode()))
                ws.sendall(_ws_frame(b"", 0x8))
                return
            upstream.settimeout(None)
            buffer = b""
            try:
                while True:
                    readable, _, _ = select.select([ws, upstream], [], [], 5)
                    if upstream in readable:
                        data = upstream.recv(1 << 16)
                        if not data:
                            ws.sendall(_ws_frame(b"", 0x8))
                            return
                        ws.sendall(_ws_frame(b"\x00" + data))
                    if ws in readable:
                        data = ws.recv(1 << 16)
                        if not data:
                            return
                        buffer += data
                        while (frame := _ws_parse(buffer)) is not None:
                            opcode, payload, buffer = frame
                            if opcode == 0x8:
                                ws.sendall(_ws_frame(b"", 0x8))
                                return
                            if opcode == 0x9:
                                ws.sendall(_ws_frame(payload, 0xA))
                            elif opcode == 0x2 and payload[:1] == b"\x00":
                                upstream.sendall(payload[1:])
            except OSError:
                return
            finally:
                upstream.close()

    return Handler
