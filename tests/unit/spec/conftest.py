"""What `servetune validate` says of a spec it refuses, for the spec tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tuning.cli import main
from tuning.errors import ExitCode

Refusal = Callable[..., str]
"""``refusal(text, name="spec.yaml")``: write the spec beside the test, run validate, assert exit 2, its stderr."""


@pytest.fixture
def refusal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Refusal:
    # main() sets a few variables with os.environ.setdefault; monkeypatch puts them back afterwards.
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)

    def refused(text: str, name: str = "spec.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        assert main(["validate", str(path)]) == ExitCode.bad_input
        captured = capsys.readouterr()
        assert "valid" not in captured.out
        return captured.err

    return refused
