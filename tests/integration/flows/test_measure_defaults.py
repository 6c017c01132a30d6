"""The engine's defaults as trial 0: measured first and as often as the winner, and the result compared with them.

Real Prefect, the store, the local deployer and genai-bench, against the stand-in engine of
``tests/support/openai_engine.py`` (it behaves by its ``--max-num-seqs`` value; the defaults pass none).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

from flows import tune
from tests.support.standin_runs import standin_spec
from tuning.report.leaderboard import best_card
from tuning.store import Store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SERVETUNE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_defaults_run_first_and_as_often_as_the_winner_and_the_result_compares_with_them(
    prefect_server: None, tiny_model: Path, tmp_path: Path, home: Path
) -> None:
    spec = standin_spec(
        "defaults-first",
        tiny_model,
        tmp_path,
        seqs=[2, 4],
        measure_defaults=True,
        confirmation={"top": 1, "repeats": 1},
    )

    summary = tune(spec)

    store = Store()
    trials = store.trials(summary.run_id)
    assert (trials[0].params, trials[0].confirms, trials[0].state) == ({}, None, "succeeded")
    assert [t.number for t in trials if t.params and t.confirms is None] == [1, 2]  # the grid, defaults not counted
    best = summary.best_trial
    assert best is not None
    # The defaults take no leader's place: the one confirmation slot goes to a searched configuration, and the
    # defaults are measured once more beside it, whatever they scored.
    assert len({t.confirms for t in trials if t.params and t.confirms is not None} & {1, 2}) == 1
    assert [t.confirms for t in trials if not t.params] == [None, 0]
    assert all(t.state == "succeeded" for t in trials)
    if best != 0:
        assert f"against the engine's defaults (trial 0), trial {best} is output_throughput" in summary.message
        assert ", 2 runs):" in summary.message  # the defaults' side: both measurements, with their range
        # Welch's interval where the best was confirmed too (2 runs a side), else the ranges.
        verdicts = ("told apart from the defaults", "apart on every measurement", "cannot be told apart")
        assert any(verdict in summary.message for verdict in verdicts)
    else:  # the stand-in serves every configuration alike: the defaults may come out ahead
        assert "the engine's defaults (trial 0) scored best" in summary.message
    card = best_card(store, store.find_run(summary.run_id), next(t for t in trials if t.number == best))
    assert "**Baseline: **" in card and "the engine's defaults (trial 0)" in card
    with get_client(sync_client=True) as client:
        named = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["trial-0 defaults"])))
    assert named, "the defaults' trial run is named for them in the Prefect UI"


def test_defaults_that_crash_are_recorded_failed_and_the_message_says_so(
    prefect_server: None, tiny_model: Path, tmp_path: Path, home: Path
) -> None:
    spec = standin_spec(
        "defaults-crash",
        tiny_model,
        tmp_path,
        seqs=[2],
        faults={"": "crash"},  # type: ignore[dict-item]  # the stand-in keys its faults by --max-num-seqs; none given
        measure_defaults=True,
        confirmation={"top": 1, "repeats": 1},
    )

    summary = tune(spec)

    trials = Store().trials(summary.run_id)
    assert [(t.number, t.params, t.confirms, t.state) for t in trials] == [
        (0, {}, None, "failed"),
        (1, {"max-num-seqs": 2}, None, "succeeded"),
        (2, {"max-num-seqs": 2}, 1, "succeeded"),
    ]
    assert summary.best_trial == 1
    assert "the engine's defaults (trial 0) were not measured: they ended failed" in summary.message
