"""The base of the HTTP stand-ins (Kubernetes API, OME's engine, Docker's): quiet, keep-alive, replies unheld."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler
from typing import Any


class StandInHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm holds each reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass
