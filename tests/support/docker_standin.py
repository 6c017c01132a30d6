"""A stand-in for the Docker daemon, for what the real one here (podman's API service, tests/support/podman.py)
cannot show: GPU device requests (podman ignores them), pulls from a registry (none is reachable here), a daemon
that reports a taken port or a failed pull at a chosen moment, and the exact request bodies the SDK sends. What a
real daemon can show (containers run, removed, swept, their logs kept, IPC and shared memory, mounts) is tested
against podman in test_docker_daemon.py and tests/e2e/test_docker_podman.py.

It is an HTTP server in a thread on 127.0.0.1 that answers the Docker Engine API paths the docker SDK uses
for containers and images, so tests drive the real SDK (``docker.DockerClient(base_url=standin.url)``) and
check the request bodies it actually sends. Every request is recorded with its parsed query and JSON body.

A test scripts what the next containers do when started (``standin.behaviour``):

- ``"ready"``: runs and serves a minimal OpenAI-style engine (``/health``, ``/v1/completions``) on the host
  port it publishes, as a started engine would;
- ``"running"``: runs, but nothing answers on its port (an engine that never gets ready);
- ``"exits"``: exits at once with status 1 after writing ``standin.log_lines``;
- ``"port-taken"``: fails to start because its host port is taken, as the daemon reports it.

What it does not model: image contents, networks, volumes, exec, TTY containers.
"""

from __future__ import annotations

import json
import re
import struct
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.http_standin import StandInHandler

API_VERSION = "1.43"


@dataclass
class Request:
    method: str
    path: str  # without the /v1.xx prefix
    query: dict[str, str]
    body: Any


@dataclass
class FakeContainer:
    id: str
    name: str
    body: dict[str, Any]
    behaviour: str
    log_lines: list[tuple[int, str]]  # (stream: 1 stdout, 2 stderr, line)
    status: str = "created"
    exit_code: int = 0
    engine: HTTPServer | None = None
    served_name: str = ""

    @property
    def labels(self) -> dict[str, str]:
        return self.body.get("Labels") or {}

    def inspect(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": "/" + self.name,
            "Image": self.body.get("Image", ""),
            "Config": {**self.body, "Tty": False, "Labels": self.labels},
            "HostConfig": self.body.get("HostConfig", {}),
            "State": {
                "Status": self.status,
                "Running": self.status == "running",
                "ExitCode": self.exit_code,
            },
        }

    def summary(self) -> dict[str, Any]:
        return {"Id": self.id, "Names": ["/" + self.name], "Labels": self.labels, "State": self.status}


class _FakeEngine(StandInHandler):
    """What a ready engine answers on its published port."""

    served_name = ""

    def do_GET(self) -> None:
        self.answer(200, {}) if self.path == "/health" else self.answer(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path != "/v1/completions" or body.get("model") != self.served_name:
            self.answer(404, {"message": f"The model `{body.get('model')}` does not exist."})
            return
        self.answer(200, {"choices": [{"index": 0, "text": " world", "finish_reason": "length"}]})


class DockerStandIn:
    """The daemon's state (containers, images) and every request it was sent."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.containers: dict[str, FakeContainer] = {}
        self.images: set[str] = set()
        self.pull_errors: dict[str, str] = {}  # image -> the error the registry gives
        self.behaviour = "running"
        self.log_lines: list[tuple[int, str]] = [
            (1, "INFO starting the API server"),
            (2, "ERROR CUDA out of memory: tried to allocate 2.00 GiB"),
        ]
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DockerStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for container in self.containers.values():
            self._stop_engine(container)
        self._server.shutdown()
        self._server.server_close()

    # ----- what tests read

    def created(self) -> list[dict[str, Any]]:
        """The bodies of every container-create request, oldest first."""
        return [r.body for r in self.requests if r.method == "POST" and r.path == "/containers/create"]

    def calls(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def find(self, ref: str) -> FakeContainer | None:
        with self._lock:
            for container in self.containers.values():
                if ref in (container.id, container.name) or (len(ref) >= 12 and container.id.startswith(ref)):
                    return container
        return None

    # ----- container behaviour

    def _start(self, container: FakeContainer) -> tuple[int, Any]:
        host_config = container.body.get("HostConfig") or {}
        if container.behaviour == "port-taken":
            binding = next(iter((host_config.get("PortBindings") or {}).values()), [{}])[0]
            where = f"{binding.get('HostIp', '0.0.0.0')}:{binding.get('HostPort', '')}"
            return 500, {
                "message": f"driver failed programming external connectivity on endpoint {container.name}: "
                f"Bind for {where} failed: port is already allocated"
            }
        container.log_lines += self.log_lines
        if container.behaviour == "exits":
            container.status, container.exit_code = "exited", 1
            return 204, None
        container.status = "running"
        if container.behaviour == "ready":
            self._serve_engine(container, host_config)
        return 204, None

    def _serve_engine(self, container: FakeContainer, host_config: dict[str, Any]) -> None:
        cmd = container.body.get("Cmd") or []
        served = cmd[cmd.index("--served-model-name") + 1] if "--served-model-name" in cmd else ""
        if host_config.get("NetworkMode") == "host":
            port = int(cmd[cmd.index("--port") + 1])
        else:
            binding = next(iter(host_config["PortBindings"].values()))[0]
            port = int(binding["HostPort"])
        handler = type("Engine", (_FakeEngine,), {"served_name": served})
        container.engine = ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=container.engine.serve_forever, args=(0.05,), daemon=True).start()
        container.log_lines.append((1, "INFO Application startup complete."))

    @staticmethod
    def _stop_engine(container: FakeContainer) -> None:
        if container.engine is not None:
            container.engine.shutdown()
            container.engine.server_close()
            container.engine = None

    # ----- the Engine API

    def _handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if path == "/_ping":
            return 200, "OK"
        if path == "/version":
            return 200, {"ApiVersion": API_VERSION, "MinAPIVersion": "1.24", "Version": "24.0.0-standin"}
        if method == "GET" and path == "/containers/json":
            return 200, self._list(query)
        if method == "POST" and path == "/containers/create":
            return self._create(query, body)
        if match := re.fullmatch(r"/images/(.+)/json", path):
            if match[1] not in self.images:
                return 404, {"message": f"No such image: {match[1]}"}
            return 200, {"Id": "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, match[1]).hex, "RepoTags": [match[1]]}
        if method == "POST" and path == "/images/create":
            return self._pull(query)
        match = re.fullmatch(r"/containers/([^/]+)(/[a-z]+)?", path)
        if not match:
            return 404, {"message": f"page not found: {path}"}
        container = self.find(match[1])
        if container is None:
            return 404, {"message": f"No such container: {match[1]}"}
        action = match[2] or ""
        if method == "GET" and action == "/json":
            return 200, container.inspect()
        if method == "POST" and action == "/start":
            if container.status == "running":
                return 304, None
            return self._start(container)
        if method == "GET" and action == "/logs":
            return 200, self._frames(container, query)
        if method == "POST" and action == "/stop":
            if not re.fullmatch(r"-?\d+", query.get("t", "10")):
                return 400, {"message": f"invalid value for t: {query['t']!r}"}  # as the daemon's strconv.Atoi
            if container.status != "running":
                return 304, None
            self._stop_engine(container)
            container.log_lines.append((1, "INFO Shutting down"))
            container.status, container.exit_code = "exited", 143
            return 204, None
        if method == "DELETE" and action == "":
            if container.status == "running" and query.get("force") not in ("1", "True", "true"):
                return 409, {"message": f"cannot remove container {container.name}: container is running"}
            self._stop_engine(container)
            with self._lock:
                del self.containers[container.id]
            return 204, None
        return 404, {"message": f"page not found: {method} {path}"}

    def _create(self, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        name = query.get("name") or uuid.uuid4().hex[:12]
        if body.get("Image") not in self.images:
            return 404, {"message": f"No such image: {body.get('Image')}"}
        if self.find(name) is not None:
            return 409, {"message": f'Conflict. The container name "/{name}" is already in use'}
        container = FakeContainer(
            id=uuid.uuid4().hex + uuid.uuid4().hex, name=name, body=body, behaviour=self.behaviour, log_lines=[]
        )
        with self._lock:
            self.containers[container.id] = container
        return 201, {"Id": container.id, "Warnings": []}

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        filters = json.loads(query.get("filters") or "{}")
        wanted = filters.get("label", [])
        if isinstance(wanted, dict):  # the older {"key=value": true} form
            wanted = list(wanted)
        every = query.get("all") in ("1", "True", "true")
        found = []
        for container in list(self.containers.values()):
            if not every and container.status != "running":
                continue
            labels = container.labels
            ok = True
            for item in wanted:
                key, has_value, value = item.partition("=")
                ok = ok and key in labels and (not has_value or labels[key] == value)
            if ok:
                found.append(container.summary())
        return found

    def _pull(self, query: dict[str, str]) -> tuple[int, Any]:
        tag = query.get("tag") or "latest"
        image = f"{query['fromImage']}{'@' if tag.startswith('sha256:') else ':'}{tag}"
        if image in self.pull_errors:
            # The daemon answers 200 and reports the failure inside the progress stream.
            events = [{"status": f"Pulling from {query['fromImage']}"}, {"error": self.pull_errors[image]}]
        else:
            self.images.add(image)
            events = [
                {"status": f"Pulling from {query['fromImage']}"},
                {"status": f"Downloaded newer image for {image}"},
            ]
        return 200, [json.dumps(e).encode() + b"\r\n" for e in events]

    @staticmethod
    def _frames(container: FakeContainer, query: dict[str, str]) -> bytes:
        """Non-TTY output as the daemon multiplexes it: [stream, 0, 0, 0, size (big-endian u32)] + payload."""
        lines = container.log_lines
        tail = query.get("tail", "all")
        if tail != "all" and int(tail) >= 0:
            lines = lines[-int(tail) :] if int(tail) else []
        streams = {"1": query.get("stdout") in ("1", "True", "true"), "2": query.get("stderr") in ("1", "True", "true")}
        out = b""
        for stream, line in lines:
            if streams[str(stream)]:
                payload = (line + "\n").encode()
                out += struct.pack(">BxxxL", stream, len(payload)) + payload
        return out

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(StandInHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                path = re.sub(r"^/v\d+\.\d+", "", unquote(parts.path))
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw and "json" in (self.headers.get("Content-Type") or "") else None
                standin.requests.append(Request(self.command, path, query, body))
                status, payload = standin._handle(self.command, path, query, body)
                if isinstance(payload, list) and path == "/images/create":
                    self._chunked(status, payload)  # the daemon streams progress objects as they come
                    return
                if isinstance(payload, bytes):
                    data, kind = payload, "application/vnd.docker.multiplexed-stream"
                elif isinstance(payload, str):
                    data, kind = payload.encode(), "text/plain"
                elif payload is None:
                    data, kind = b"", "application/json"
                else:
                    data, kind = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Content-Type", kind)
                if status not in (204, 304):
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if status not in (204, 304):
                    self.wfile.write(data)

            def _chunked(self, status: int, chunks: list[bytes]) -> None:
                self.send_response(status)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_DELETE = _serve

        return Handler
