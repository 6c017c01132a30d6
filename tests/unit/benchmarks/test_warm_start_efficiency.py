"""The warm-start measurement: a table of cold, known and candidates searches per surface, and clear refusals."""

from __future__ import annotations

import pytest

from benchmarks.surfaces.warm_start_efficiency import main


def test_it_prints_each_mode_for_each_surface_and_the_pooled_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "2", "--only", "moe-47b-a100-80g-chat", "--max-share", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "| surface | grid | cold median | cold ≤15% | known median | known ≤15% | candidates median |" in out
    [row] = [line for line in out.splitlines() if line.startswith("| moe-47b-a100-80g-chat | 112 |")]
    assert len(row.strip("|").split("|")) == 2 + 2 * 3  # name, grid, then a median and a rate per mode
    assert "| **all** |" in out


def test_the_earlier_surfaces_own_seed_and_an_unknown_surface_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--later-seed", "0"])
    assert "--later-seed 0 is the earlier surfaces' own seed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--only", "no-such-surface"])
    assert "--only: no such surface; the suite has dense-8b-h100x4-chat" in capsys.readouterr().err
