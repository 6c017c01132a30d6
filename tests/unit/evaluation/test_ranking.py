"""Choosing the best on confirmed figures, and saying when the leaders cannot be told apart."""

from __future__ import annotations

from tuning.evaluation.ranking import best_trial, confirmation_note, ranked_candidates
from tuning.store import Trial


def _trial(number: int, score: float, feasible: bool = True, confirms: int | None = None) -> Trial:
    return Trial(
        run_id="r",
        number=number,
        params={"max-num-seqs": number},
        state="succeeded",
        score=score,
        feasible=feasible,
        confirms=confirms,
    )


def test_the_best_is_chosen_on_the_mean_of_all_its_measurements() -> None:
    # Trial 0 had the luckiest first measurement; measured again it falls behind trial 1.
    trials = [_trial(0, 100.0), _trial(1, 95.0), _trial(2, 80.0, confirms=0), _trial(3, 94.0, confirms=1)]
    assert best_trial(trials, maximize=True).number == 1
    assert [c.trial.number for c in ranked_candidates(trials, maximize=True)] == [1, 0]


def test_a_configuration_that_breaks_a_hard_slo_when_measured_again_is_not_best() -> None:
    trials = [_trial(0, 100.0), _trial(1, 90.0), _trial(2, 101.0, feasible=False, confirms=0)]
    assert best_trial(trials, maximize=True).number == 1


def test_the_report_says_when_the_top_two_cannot_be_told_apart() -> None:
    trials = [_trial(0, 100.0), _trial(1, 97.0), _trial(2, 96.0, confirms=0), _trial(3, 99.0, confirms=1)]
    note = confirmation_note(trials, maximize=True)
    assert "cannot be told apart from trial" in note and "includes no difference" in note
    assert "range 96-100" in note


def test_the_report_says_when_the_leader_is_ahead_beyond_the_noise() -> None:
    trials = [_trial(0, 100.0), _trial(1, 50.0), _trial(2, 98.0, confirms=0), _trial(3, 52.0, confirms=1)]
    note = confirmation_note(trials, maximize=True)
    assert note.startswith("trial 0 confirmed over 2 runs")
    assert "told apart from trial 1 (mean 51, range 50-52): the 95% interval of the difference of means is +" in note


def test_latency_objectives_rank_the_lowest_mean_first() -> None:
    trials = [_trial(0, 0.5), _trial(1, 0.3), _trial(2, 0.9, confirms=1)]
    assert best_trial(trials, maximize=False).number == 0
