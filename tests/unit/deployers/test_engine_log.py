"""How an engine's log line is classed and cleaned before it reaches the trial's Prefect logs."""

from __future__ import annotations

import logging

import pytest

from deployers._engine_log import level_of, read_from, redact


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("WARNING 12-02 10:00:01 [config.py:12] chunked prefill is enabled", logging.WARNING),
        ("(APIServer pid=7) ERROR 12-02 10:00:01 [core.py:1] engine core failed", logging.WARNING),
        ("[2025-01-01 10:00:01] CRITICAL out of memory", logging.WARNING),
        ("Traceback (most recent call last):", logging.WARNING),
        ("torch.OutOfMemoryError: CUDA out of memory", logging.WARNING),
        ("INFO 12-02 10:00:01 [api_server.py:1] Setting log level to ERROR", logging.DEBUG),
        ("Loading safetensors checkpoint shards: 100% done", logging.DEBUG),
    ],
)
def test_warnings_and_errors_are_told_by_their_level_marker(line: str, level: int) -> None:
    assert level_of(line) == level


def test_secret_values_and_token_shapes_are_masked() -> None:
    token = "hf_" + "a1B2" * 9
    assert redact(f"env: PROXY=http://u:pw1234@proxy token={token}", ["http://u:pw1234@proxy"]) == (
        "env: PROXY=*** token=***"
    )


def test_only_complete_lines_are_read_and_the_rest_next_time(tmp_path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("one\ntwo\nthr")
    lines, offset = read_from(log, 0)
    assert lines == ["one", "two"]
    with open(log, "a") as f:
        f.write("ee\n")
    assert read_from(log, offset) == (["three"], len("one\ntwo\nthree\n"))
