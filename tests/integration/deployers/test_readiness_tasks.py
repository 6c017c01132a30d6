"""The readiness probe per benchmark task: an engine is ready once it serves one request of the task it is benchmarked
on (a completion, an embedding, a rerank), and a reason that names the path says why it is not.

The engine is an HTTP stand-in for an engine's OpenAI-compatible server on a local port, answering each path as a
test tells it to.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from deployers._readiness import probe
from tests.support.http_standin import StandInHandler

SERVED = "tiny-model"
# Per task: the path the probe must use, and a minimal answer of vLLM's OpenAI-compatible server there.
ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "text-to-text": ("/v1/completions", {"object": "text_completion", "choices": [{"index": 0, "text": "!"}]}),
    "text-to-embeddings": ("/v1/embeddings", {"object": "list", "data": [{"index": 0, "embedding": [0.1, 0.2]}]}),
    "text-to-rerank": ("/v1/rerank", {"results": [{"index": 0, "relevance_score": 0.9}]}),
}
FIELDS = {"text-to-text": "choices", "text-to-embeddings": "data", "text-to-rerank": "results"}


class EngineStandIn:
    """An engine's OpenAI-compatible server: ``/health`` answers 200, and each path in ``routes`` its (status, body);
    any other path 404, as vLLM answers a path its model's runner does not serve."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, Any]] = {}
        self.posts: list[tuple[str, dict[str, Any]]] = []
        standin = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                self.answer(200, b"") if self.path == "/health" else self.answer(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                standin.posts.append((self.path, request))
                self.answer(*standin.routes.get(self.path, (404, {"detail": "Not Found"})))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def _standin() -> Iterator[EngineStandIn]:
    standin = EngineStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def engine(_standin: EngineStandIn) -> EngineStandIn:
    """The module's stand-in, serving nothing but ``/health`` until a test says otherwise."""
    _standin.routes.clear()
    _standin.posts.clear()
    return _standin


@pytest.mark.parametrize("task", sorted(ANSWERS))
def test_an_engine_serving_the_tasks_request_is_ready(engine: EngineStandIn, task: str) -> None:
    path, answer = ANSWERS[task]
    engine.routes[path] = (200, answer)

    assert probe(engine.url, "/health", SERVED, task) is None
    [(posted, request)] = engine.posts
    assert posted == path
    assert request["model"] == SERVED


def test_the_probe_asks_for_a_completion_when_no_task_is_named(engine: EngineStandIn) -> None:
    engine.routes["/v1/completions"] = (200, ANSWERS["text-to-text"][1])

    assert probe(engine.url, "/health", SERVED) is None
    assert [path for path, _ in engine.posts] == ["/v1/completions"]


@pytest.mark.parametrize("task", sorted(ANSWERS))
def test_an_engine_that_does_not_serve_the_tasks_path_is_not_ready(engine: EngineStandIn, task: str) -> None:
    # It serves every other task's path: a generating model asked for embeddings, a pooling one for a completion.
    path, _ = ANSWERS[task]
    engine.routes |= {p: (200, answer) for other, (p, answer) in ANSWERS.items() if other != task}

    reason = probe(engine.url, "/health", SERVED, task)

    assert reason is not None
    assert reason.startswith(f"{path}: HTTP 404")
    assert "Not Found" in reason


@pytest.mark.parametrize("task", sorted(ANSWERS))
def test_an_answer_without_the_tasks_field_is_not_ready(engine: EngineStandIn, task: str) -> None:
    path, answer = ANSWERS[task]
    field = FIELDS[task]
    engine.routes[path] = (200, {k: v for k, v in answer.items() if k != field})

    assert probe(engine.url, "/health", SERVED, task) == f"{path}: answer has no {field}"


@pytest.mark.parametrize("task", sorted(ANSWERS))
def test_an_empty_answer_field_is_not_ready(engine: EngineStandIn, task: str) -> None:
    path, answer = ANSWERS[task]
    field = FIELDS[task]
    engine.routes[path] = (200, answer | {field: []})

    assert probe(engine.url, "/health", SERVED, task) == f"{path}: answer has no {field}"


@pytest.mark.parametrize("task", sorted(ANSWERS))
def test_an_engine_whose_task_request_fails_is_not_ready_with_its_message(engine: EngineStandIn, task: str) -> None:
    path, _ = ANSWERS[task]
    engine.routes[path] = (500, {"error": "model is still loading"})

    reason = probe(engine.url, "/health", SERVED, task)

    assert reason is not None
    assert reason.startswith(f"{path}: HTTP 500")
    assert "model is still loading" in reason


def test_an_answer_that_is_not_json_is_not_ready(engine: EngineStandIn) -> None:
    engine.routes["/v1/embeddings"] = (200, b"<html>starting</html>")

    reason = probe(engine.url, "/health", SERVED, "text-to-embeddings")

    assert reason is not None
    assert reason.startswith("/v1/embeddings")
