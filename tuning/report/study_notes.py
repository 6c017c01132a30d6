"""A stored trial in the words the Optuna study keeps for optuna-dashboard (``servetune dashboard``): servetune's
state, the reason ``servetune show`` gives beside it, and the trial's folder."""

from __future__ import annotations

from tuning.evaluation.defaults import measures_defaults
from tuning.evaluation.outcome import TrialState
from tuning.report.leaderboard import note_of_state
from tuning.runtime.settings import trial_dir
from tuning.search.study import TrialNote
from tuning.store import Trial

# Told without an engine: they have no folder of their own.
_NOT_RUN = (TrialState.repeated, TrialState.rejected)


def trial_note(recorded: Trial | None) -> TrialNote:
    """``recorded`` None: the trial ended without recording an outcome (its process was interrupted)."""
    if recorded is None:
        return TrialNote(TrialState.interrupted, "the trial ended without recording an outcome")
    # As the leaderboard shows it: a measured trial that broke a hard SLO reads infeasible, not succeeded.
    state = "infeasible" if recorded.feasible is False else recorded.state
    folder = None if recorded.state in _NOT_RUN else str(trial_dir(recorded.run_id, recorded.number))
    reason = note_of_state(recorded)
    if measures_defaults(recorded):  # Optuna shows it FAIL: it is kept out of the sampler's model
        reason = "; ".join(part for part in ("the engine's defaults, not searched", reason) if part)
    return TrialNote(state, reason, folder)
