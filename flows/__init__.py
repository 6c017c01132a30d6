"""The Prefect flows: ``tune`` (the run) and ``trial`` (one configuration)."""

from flows.trial import TrialFailed, trial
from flows.tune import NoTrialSucceeded, TuneSummary, tune

__all__ = ["NoTrialSucceeded", "TrialFailed", "TuneSummary", "trial", "tune"]
