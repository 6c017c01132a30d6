"""Proxy settings for the processes servetune starts.

Proxies configured in the user's environment are passed on, but requests to the engine must never go
through them, so the engine's host and the loopback names are always added to NO_PROXY.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping

_LOCAL = ("localhost", "127.0.0.1", "::1")


def no_proxy_env(env: Mapping[str, str], hosts: Iterable[str] = ()) -> dict[str, str]:
    existing = env.get("NO_PROXY") or env.get("no_proxy") or ""
    names = [n.strip() for n in existing.split(",") if n.strip()]
    for host in (*_LOCAL, *hosts):
        if host not in names:
            names.append(host)
    value = ",".join(names)
    return {**env, "NO_PROXY": value, "no_proxy": value}


def free_port(host: str = "127.0.0.1") -> int:
    """A port no one listens on now: for an engine, or genai-bench's load-worker master."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
