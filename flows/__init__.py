"""The Prefect flows: ``tune`` (the run) and ``trial`` (one configuration)."""

from flows.trial import TrialFailed, trial
from flows.tune import NoTrialSucceeded, SpecChanged, TuneSummary, tune

__all__ = ["NoTrialSucceeded", "SpecChanged", "TrialFailed", "TuneSummary", "trial", "tune"]
