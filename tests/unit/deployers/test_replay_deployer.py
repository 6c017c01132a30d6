"""The replay deployer on its own: rounds handed over level by level through `settles` (so an early stop ends the
replay where it would end genai-bench), noise that repeats with its seed and differs between trials, and a
configuration recorded as failed failing where a real engine does."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployers import Deployer, EngineExited, ReadyTimeout, deployer_for
from tests.support.factories import make_spec, round_metrics
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import TrialState
from tuning.evaluation.surface import Measurement, write_surface

SCENARIO = "D(100,100)"
LEVELS = [1, 4, 16]


def _surface(folder: Path) -> Path:
    """max-num-seqs 2 and 4 measured at three levels (throughput 100 x level x seqs); 8 failed, 16 timed out."""
    measured = [
        Measurement(
            trial=i,
            params={"max-num-seqs": seqs},
            state=TrialState.succeeded,
            rounds={(SCENARIO, c): round_metrics(SCENARIO, c, throughput=100.0 * c * seqs) for c in LEVELS},
        )
        for i, seqs in enumerate([2, 4])
    ]
    measured += [
        Measurement(trial=2, params={"max-num-seqs": 8}, state=TrialState.failed, error="RuntimeError: out of memory"),
        Measurement(
            trial=3,
            params={"max-num-seqs": 16},
            state=TrialState.failed,
            error="timed_out: ReadyTimeout: not ready after 300s",
        ),
    ]
    path = folder / "surface.csv"
    with path.open("w", encoding="utf-8") as out:
        write_surface(out, ["max-num-seqs"], measured)
    return path


def _deployer(folder: Path, **settings: object) -> Deployer:
    deployer = {"kind": "replay", "surface": str(_surface(folder)), "ready_seconds": 0.0} | settings
    spec = make_spec(
        "replay-unit",
        deployer=deployer,
        search_space={"max-num-seqs": [2, 4, 8, 16]},
        benchmark={"traffic_scenarios": [SCENARIO], "concurrency": LEVELS},
    )
    return deployer_for(spec)


def _rounds(
    folder: Path, seqs: int, trial: int = 0, stop_after: int | None = None, **settings: object
) -> list[RoundMetrics]:
    deployer = _deployer(folder, **settings)
    deployment = deployer.deploy("run1", trial, {"max-num-seqs": seqs}, folder / f"trial-{trial}")
    deployer.wait_ready(deployment, timeout=5)
    handed: list[int] = []

    def settles(rounds: list[RoundMetrics]) -> bool:
        handed.append(rounds[-1].concurrency)
        return stop_after is not None and len(rounds) >= stop_after

    result = deployer.measure(deployment, SCENARIO, LEVELS, folder / f"trial-{trial}" / "out", settles)
    assert result is not None
    assert handed == [r.concurrency for r in result.rounds]
    return result.rounds


def test_rounds_are_the_recorded_ones_level_by_level_and_a_settled_trial_stops_there(tmp_path: Path) -> None:
    rounds = _rounds(tmp_path, seqs=4)
    assert [(r.concurrency, r.output_throughput) for r in rounds] == [(c, 100.0 * c * 4) for c in LEVELS]
    assert all(r.source_file.startswith("replay of surface.csv trial 1: ") for r in rounds)
    assert [r.concurrency for r in _rounds(tmp_path, seqs=4, stop_after=2)] == LEVELS[:2]


def test_noise_repeats_with_its_seed_differs_between_trials_and_keeps_the_error_rate(tmp_path: Path) -> None:
    first = _rounds(tmp_path, seqs=2, trial=0, noise=0.05, seed=3)
    again = _rounds(tmp_path, seqs=2, trial=0, noise=0.05, seed=3)
    other_trial = _rounds(tmp_path, seqs=2, trial=1, noise=0.05, seed=3)
    recorded = [100.0 * c * 2 for c in LEVELS]
    assert [r.output_throughput for r in first] == [r.output_throughput for r in again]
    assert [r.output_throughput for r in first] != [r.output_throughput for r in other_trial]
    assert [r.output_throughput for r in first] != recorded
    assert all(abs(r.output_throughput / v - 1) < 0.3 for r, v in zip(first, recorded, strict=True))
    assert all(r.error_rate == 0.0 and r.num_completed == 10 for r in first)


def test_a_configuration_recorded_as_failed_exits_before_it_is_ready_with_the_recorded_error(tmp_path: Path) -> None:
    deployer = _deployer(tmp_path)
    deployment = deployer.deploy("run1", 0, {"max-num-seqs": 8}, tmp_path / "trial-0")
    assert not deployer.is_running(deployment)
    with pytest.raises(EngineExited, match="stopped before it was ready") as failed:
        deployer.wait_ready(deployment, timeout=5)
    assert "RuntimeError: out of memory" in str(failed.value)
    assert "RuntimeError: out of memory" in deployer.logs(deployment)
    assert deployer.teardown(deployment) is False  # nothing was running


def test_a_configuration_recorded_as_timed_out_times_out_before_it_is_ready(tmp_path: Path) -> None:
    deployer = _deployer(tmp_path)
    deployment = deployer.deploy("run1", 0, {"max-num-seqs": 16}, tmp_path / "trial-0")
    with pytest.raises(ReadyTimeout, match="not ready after 300s"):
        deployer.wait_ready(deployment, timeout=5)


def test_a_serving_configuration_is_ready_running_and_torn_down(tmp_path: Path) -> None:
    deployer = _deployer(tmp_path)
    deployment = deployer.deploy("run1", 0, {"max-num-seqs": 2}, tmp_path / "trial-0")
    assert deployer.wait_ready(deployment, timeout=5) >= 0
    assert deployer.is_running(deployment)
    assert "no engine is started" in deployer.logs(deployment)
    assert deployer.teardown(deployment) is True
    assert deployer.sweep() == []
