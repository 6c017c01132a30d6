"""The Prefect tasks a trial is made of. Each does one thing and returns a typed value."""

from tasks.benchmark import benchmark
from tasks.cleanup import cleanup
from tasks.deploy import deploy
from tasks.persist import record_trial_outcome, record_trial_start
from tasks.score import score_result
from tasks.wait_ready import wait_ready

__all__ = [
    "benchmark",
    "cleanup",
    "deploy",
    "record_trial_outcome",
    "record_trial_start",
    "score_result",
    "wait_ready",
]
