"""The Prefect flows: ``tune`` (the run), ``trial`` (one configuration), ``regression`` (the nightly recheck)."""

from flows.regression import NothingToRecheck, RegressionDetected, RegressionSummary, regression
from flows.trial import TrialFailed, trial
from flows.tune import NoTrialSucceeded, SpecChanged, TuneSummary, tune

__all__ = [
    "NoTrialSucceeded",
    "NothingToRecheck",
    "RegressionDetected",
    "RegressionSummary",
    "SpecChanged",
    "TrialFailed",
    "TuneSummary",
    "regression",
    "trial",
    "tune",
]
