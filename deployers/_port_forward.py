"""A local port relayed to a remote stream: how servetune reaches an engine pod from outside the cluster."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Upstream = tuple[Any, Callable[[], None]]


class PortForwardRelay:
    """A local TCP port whose every connection is joined to a fresh upstream stream.

    ``connect`` opens the upstream (for OME, a port-forward to the engine pod through the API server) and
    returns a connected socket with a function that closes it. It runs per connection, so the relay works
    from deploy on: before the pod runs, a connection is closed at once, which a readiness probe reports as
    not ready yet; after a pod restart, the next connection reaches the new pod.
    """

    def __init__(self, connect: Callable[[], Upstream], host: str = "127.0.0.1") -> None:
        self._connect = connect
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.25)
        self.host, self.port = host, int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, name=f"servetune relay :{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setblocking(True)
            threading.Thread(
                target=self._serve, args=(conn,), name=f"servetune relay :{self.port} conn", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            if self._closed.is_set():
                conn.close()
                return
            self._open.add(conn)
        try:
            try:
                upstream, close_upstream = self._connect()
            except Exception as exc:
                log.debug("relay :%d: no upstream: %s", self.port, exc)
                return
            try:
                self._pipe(conn, upstream)
            finally:
                close_upstream()
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _pipe(self, conn: socket.socket, upstream: Any) -> None:
        # Either side's end of stream ends the connection: HTTP clients do not half-close, and the
        # Kubernetes port-forward closes the whole stream when its local side stops writing.
        ends = [conn, upstream]
        while not self._closed.is_set():
            try:
                readable, _, _ = select.select(ends, [], [], 0.25)
                for end in readable:
                    data = end.recv(1 << 16)
                    if not data:
                        return
                    (upstream if end is conn else conn).sendall(data)
            except (OSError, ValueError):
                return

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # stops a pending accept from taking more connections
        self._listener.close()
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
