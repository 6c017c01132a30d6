"""Is an engine ready to serve? Its health endpoint answers, and then it serves one request of the benchmark's task:
a one-token completion, one embedding, or one rerank."""

from __future__ import annotations

import httpx

_HEALTH_TIMEOUT = 5.0
# The first completion also warms the engine up, which on a CPU can take a while.
_COMPLETION_TIMEOUT = 60.0

# Per genai-bench task: the OpenAI-compatible path it loads, a minimal request, and the field its answer must fill.
_FIRST_REQUEST: dict[str, tuple[str, dict[str, object], str]] = {
    "text-to-text": ("/v1/completions", {"prompt": "Hello", "max_tokens": 1}, "choices"),
    "text-to-embeddings": ("/v1/embeddings", {"input": "Hello"}, "data"),
    "text-to-rerank": ("/v1/rerank", {"query": "Hello", "documents": ["Hello there"]}, "results"),
}


def probe(endpoint: str, health_path: str, served_name: str, task: str = "text-to-text") -> str | None:
    """None when ready, else a short reason why not."""
    # Engines are reached directly: a user's proxy must not sit between servetune and its engine.
    with httpx.Client(trust_env=False) as client:
        try:
            health = client.get(endpoint + health_path, timeout=_HEALTH_TIMEOUT)
        except httpx.HTTPError as exc:
            return f"{health_path}: {type(exc).__name__}"
        if health.status_code != 200:
            return f"{health_path}: HTTP {health.status_code}"
        path, body, answer = _FIRST_REQUEST[task]
        try:
            reply = client.post(endpoint + path, json={"model": served_name, **body}, timeout=_COMPLETION_TIMEOUT)
        except httpx.HTTPError as exc:
            return f"{path}: {type(exc).__name__}"
        if reply.status_code != 200:
            return f"{path}: HTTP {reply.status_code} {reply.text[:200]}"
        try:
            body_of_reply = reply.json()
        except ValueError:
            return f"{path}: answer is not JSON: {reply.text[:200]}"
        if not isinstance(body_of_reply, dict) or not body_of_reply.get(answer):
            return f"{path}: answer has no {answer}"
    return None
