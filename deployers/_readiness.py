"""Is an engine ready to serve? Its health endpoint answers, and then it completes one token."""

from __future__ import annotations

import httpx

_HEALTH_TIMEOUT = 5.0
# The first completion also warms the engine up, which on a CPU can take a while.
_COMPLETION_TIMEOUT = 60.0


def probe(endpoint: str, health_path: str, served_name: str) -> str | None:
    """None when ready, else a short reason why not."""
    # Engines are reached directly: a user's proxy must not sit between servetune and its engine.
    with httpx.Client(trust_env=False) as client:
        try:
            health = client.get(endpoint + health_path, timeout=_HEALTH_TIMEOUT)
        except httpx.HTTPError as exc:
            return f"{health_path}: {type(exc).__name__}"
        if health.status_code != 200:
            return f"{health_path}: HTTP {health.status_code}"
        try:
            reply = client.post(
                endpoint + "/v1/completions",
                json={"model": served_name, "prompt": "Hello", "max_tokens": 1},
                timeout=_COMPLETION_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            return f"completion: {type(exc).__name__}"
        if reply.status_code != 200:
            return f"completion: HTTP {reply.status_code} {reply.text[:200]}"
        if not reply.json().get("choices"):
            return "completion: answer has no choices"
    return None
