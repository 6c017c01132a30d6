"""What `servetune show`, `runs` and `history` print for a stored run: aligned tables and plain text, not the
markdown of the Prefect artifacts; the best row starred; a long reason cut to the width, or whole with --wide.

The run is recorded through the real scoring and store (SQLite); no engine runs here.
"""

from __future__ import annotations

import re
import shlex

import pytest

from tests.support.factories import make_spec, round_metrics
from tuning.cli import main
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.pareto import Goal
from tuning.evaluation.ranking import conclude
from tuning.evaluation.scoring import score
from tuning.store import Store, TuningRun

# A failed trial's error as an engine reports it: far longer than a terminal line.
LONG_ERROR = (
    "RuntimeError: the engine stopped before it was ready; " + "torch.OutOfMemoryError: CUDA out of memory. " * 6
).strip()
MARKDOWN = ("**", "|---", "| ---", "```", "# Best")
ANSI = re.compile(r"\x1b\[")


def _stored_run(database_url: str) -> TuningRun:
    spec = make_spec("terminal-test", search_space={"max-num-seqs": [2, 4, 8]})
    store = Store(database_url)
    run = store.start_run(spec)
    for number, throughput in ((0, 100.0), (1, 250.0)):
        params = {"max-num-seqs": 2 + 2 * number}
        store.start_trial(run.id, number, params)
        rounds = [round_metrics(concurrency=4, throughput=throughput)]
        result = score(rounds, spec.objectives, spec.slos, 1, ranks=spec.objective)
        command = ["python", "-m", "vllm.entrypoints.openai.api_server", "--max-num-seqs", str(params["max-num-seqs"])]
        outcome = TrialOutcome(number=number, params=params, state=TrialState.succeeded, score=result, command=command)
        store.finish_trial(run.id, outcome, rounds)
    store.start_trial(run.id, 2, {"max-num-seqs": 8})
    failed = TrialOutcome(
        number=2, params={"max-num-seqs": 8}, state=TrialState.failed, phase=Phase.ready, error=LONG_ERROR
    )
    store.finish_trial(run.id, failed, [])
    conclusion = conclude(store.trials(run.id), Goal.of_spec(spec))
    assert conclusion.best is not None
    store.finish_run(run.id, "completed", conclusion.message, conclusion.best.number)
    return store.find_run(run.id)


def _show(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["show", *argv]) == 0
    return capsys.readouterr().out


def test_show_prints_aligned_plain_text_with_the_best_row_starred_and_a_copyable_launch_command(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    monkeypatch.delenv("COLUMNS", raising=False)
    run = _stored_run(database_url)

    out = _show(capsys, run.id)

    assert [m for m in MARKDOWN if m in out] == []
    assert not ANSI.search(out)
    assert max(len(line) for line in out.splitlines()) <= 120
    rows = {line.split()[0]: line for line in out.splitlines() if re.match(r"\d+ ", line)}
    assert rows["1"].startswith("1 ★") and "max-num-seqs=4" in rows["1"]  # the best, starred
    assert "★" not in rows["0"] + rows["2"]
    header = next(line for line in out.splitlines() if line.startswith("trial "))
    # Aligned: each column starts at the same place in the header and in every row.
    column = header.index("score")
    assert all(rows[n][column - 1] == " " and rows[n][column] != " " for n in ("0", "1"))
    assert "Best configuration of terminal-test: trial 1" in out
    command = shlex.join(["python", "-m", "vllm.entrypoints.openai.api_server", "--max-num-seqs", "4"])
    assert command in out.splitlines()  # a line of its own, nothing around it to trim before pasting


def test_a_long_reason_is_cut_to_the_width_by_default_and_whole_with_wide(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "120")
    run = _stored_run(database_url)

    cut = _show(capsys, run.id)
    [failed] = [line for line in cut.splitlines() if line.startswith("2 ")]
    assert "ready: Runtime" in failed and failed.rstrip().endswith("…")
    assert LONG_ERROR not in cut
    assert max(len(line) for line in cut.splitlines()) <= 120

    whole = _show(capsys, run.id, "--wide")
    [failed] = [line for line in whole.splitlines() if line.startswith("2 ")]
    assert f"ready: {LONG_ERROR}" in failed
    assert [m for m in MARKDOWN if m in whole] == []


def test_runs_and_history_print_aligned_tables(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    run = _stored_run(database_url)

    assert main(["runs"]) == 0
    runs = capsys.readouterr().out
    [row] = [line.split() for line in runs.splitlines() if line.startswith(run.id)]
    assert row[1:4] == ["terminal-test", "tune", "completed"]
    assert main(["history", "terminal-test"]) == 0
    history = capsys.readouterr().out
    assert "max-num-seqs=4" in history and "|" not in history and not ANSI.search(history)
