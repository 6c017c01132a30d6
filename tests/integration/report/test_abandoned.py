"""`servetune runs` and `servetune show` tell a run whose process was killed from one that still runs."""

from __future__ import annotations

import json

import pytest

from tests.support.owning_process import run_owned_elsewhere
from tuning.cli import main
from tuning.store import Store


def _runs_row(out: str, run_id: str) -> list[str]:
    return next(line.split() for line in out.splitlines() if line.startswith(run_id))


def test_a_run_whose_process_was_killed_shows_abandoned_and_how_to_resume_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    with run_owned_elsewhere(database_url, "killed-run") as other:
        assert main(["runs"]) == 0
        assert _runs_row(capsys.readouterr().out, other.run_id)[3] == "running"  # alive: running, as it is
        assert main(["show", other.run_id]) == 0
        assert f"running in process {other.owner}" in capsys.readouterr().out

        other.kill()

        assert main(["runs"]) == 0
        assert _runs_row(capsys.readouterr().out, other.run_id)[1:4] == ["killed-run", "tune", "abandoned"]
        assert main(["show", "killed-run", "--wide"]) == 0  # each trial's reason whole
        shown = capsys.readouterr().out.splitlines()
        assert shown[0].startswith(f"run {other.run_id} 'killed-run': abandoned;")
        assert shown[1] == (
            f"the process running it ({other.owner}) is gone; `servetune tune` with the same name resumes it"
        )
        [trial_row] = [line for line in shown if line.startswith("0 ")]
        assert "abandoned" in trial_row.split()
        assert f"abandoned: the process running it ({other.owner}) is gone; a rerun of the name records it failed" in (
            trial_row
        )
        assert main(["show", other.run_id, "--json"]) == 0
        exported = json.loads(capsys.readouterr().out)
        assert (exported["run"]["state"], [t["state"] for t in exported["trials"]]) == ("abandoned", ["abandoned"])

    stored = Store(database_url).find_run(other.run_id)
    assert stored.finished_at is None and stored.message is None  # shown so, never written so
