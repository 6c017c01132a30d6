"""Persistence: tuning runs, their trials and benchmark rounds, in SQLite by default or PostgreSQL."""

from tuning.store._store import RunNotFound, RunOwned, Store, as_seen, database_url
from tuning.store.tables import BenchmarkRound, RunKind, Trial, TuningRun

__all__ = [
    "BenchmarkRound",
    "RunKind",
    "RunNotFound",
    "RunOwned",
    "Store",
    "Trial",
    "TuningRun",
    "as_seen",
    "database_url",
]
