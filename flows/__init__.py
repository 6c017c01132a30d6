"""The Prefect flows: ``tune`` (the run), ``trial`` (one configuration), ``regression`` (the nightly recheck)."""

from flows._prefect_api import PrefectUnreachable, unreachable
from flows.regression import NothingToRecheck, RegressionDetected, RegressionSummary, regression
from flows.trial import TrialFailed, trial
from flows.tune import NoTrialSucceeded, SpecChanged, TuneSummary, tune
from tuning.runtime.run_logs import attach_to_prefect

# Every process that runs servetune's flows imports this package, a worker's flow runs included. Prefect attaches
# servetune's loggers from the environment (prefect.yaml's job variables); here they get a level that lets INFO
# through, so a deployer's messages reach the run's logs in the Prefect UI.
attach_to_prefect()

__all__ = [
    "NoTrialSucceeded",
    "NothingToRecheck",
    "PrefectUnreachable",
    "RegressionDetected",
    "RegressionSummary",
    "SpecChanged",
    "TrialFailed",
    "TuneSummary",
    "regression",
    "trial",
    "tune",
    "unreachable",
]
