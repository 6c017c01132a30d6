"""Persistence: tuning runs, their trials and benchmark rounds, in SQLite by default or PostgreSQL."""

from tuning.store._store import RunNotFound, Store, database_url
from tuning.store.tables import BenchmarkRound, RunKind, Trial, TuningRun

__all__ = ["BenchmarkRound", "RunKind", "RunNotFound", "Store", "Trial", "TuningRun", "database_url"]
