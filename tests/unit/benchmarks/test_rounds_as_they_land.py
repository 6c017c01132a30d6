"""Rounds are read while genai-bench runs: each as soon as its file is whole, in the order they were written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from benchmarks.genai_bench import landed_rounds
from benchmarks.results import ResultParseError
from tests.support.paths import TEST_DATA

RECORDED = TEST_DATA / "genai-bench" / "tiny-llama-vllm-cpu"
LEVEL_1 = "D100_100_text-to-text_num_concurrency_1_time_17s.json"
LEVEL_4 = "D100_100_text-to-text_num_concurrency_4_time_6s.json"


def _write(folder: Path, name: str, text: str, mtime: float) -> None:
    (folder / name).write_text(text)
    os.utime(folder / name, (mtime, mtime))


def test_each_round_is_read_once_in_the_order_written_and_a_half_written_one_waits(tmp_path: Path) -> None:
    shutil.copy(RECORDED / "experiment_metadata.json", tmp_path)
    seen: set[str] = set()
    assert landed_rounds(tmp_path, seen, finished=False) == []  # the metadata is not a round

    whole = (RECORDED / LEVEL_4).read_text()
    _write(tmp_path, LEVEL_1, (RECORDED / LEVEL_1).read_text(), mtime=1000.0)
    _write(tmp_path, LEVEL_4, whole[: len(whole) // 2], mtime=1001.0)  # genai-bench is still writing it
    assert [r.concurrency for r in landed_rounds(tmp_path, seen, finished=False)] == [1]
    assert landed_rounds(tmp_path, seen, finished=False) == []

    _write(tmp_path, LEVEL_4, whole, mtime=1001.0)
    assert [r.concurrency for r in landed_rounds(tmp_path, seen, finished=False)] == [4]
    assert landed_rounds(tmp_path, seen, finished=True) == []


def test_a_file_still_broken_once_genai_bench_has_ended_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, LEVEL_1, '{"aggregated_metrics": {', mtime=1000.0)
    assert landed_rounds(tmp_path, set(), finished=False) == []
    with pytest.raises(ResultParseError, match="not valid JSON"):
        landed_rounds(tmp_path, set(), finished=True)
