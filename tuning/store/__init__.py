"""Persistence: tuning runs, their trials and benchmark rounds, in SQLite by default or PostgreSQL."""

from tuning.store._store import BenchmarkRound, RunKind, RunNotFound, Store, Trial, TuningRun, database_url

__all__ = ["BenchmarkRound", "RunKind", "RunNotFound", "Store", "Trial", "TuningRun", "database_url"]
