"""A user's error ends the command with a one-line message and its exit code, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from tuning.cli import main
from tuning.errors import ExitCode


def gp_spec(tmp_path: Path) -> Path:
    path = tmp_path / "gp.yaml"
    spec = {
        "name": "gp-without-its-extra",
        "model": {"path": "/models/tiny"},
        "strategy": {"name": "gp", "max_trials": 4},
        "search_space": {"max-num-seqs": [1, 8], "max-num-batched-tokens": [256, 1024]},
    }
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize("command", ["validate", "tune"])
def test_a_missing_gp_extra_is_one_line_naming_the_extra_with_exit_code_2(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed: `import torch` fails

    code = main([command, str(gp_spec(tmp_path))])

    out, err = capsys.readouterr()
    assert code == ExitCode.bad_input == 2
    assert err.strip().splitlines() == [err.strip()], err  # one line
    assert "strategy.name gp needs torch" in err and "pip install 'servetune[gp]'" in err
    assert "Traceback" not in err + out
    assert "tuning" not in out  # `tune` stopped before any run started


def test_an_unknown_run_exits_3_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["show", "no-such-run"])

    out, err = capsys.readouterr()
    assert code == ExitCode.not_found == 3
    assert err.startswith("servetune: no run with id or name 'no-such-run'")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
