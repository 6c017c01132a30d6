"""Persistence: tuning runs, their trials, and benchmark rounds, in SQLite by default or PostgreSQL.

``SERVETUNE_DATABASE_URL`` selects the database (for example ``postgresql+psycopg://user@host/servetune``);
without it, a SQLite file in servetune's data directory is used.
"""

from __future__ import annotations

import functools
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, text, update
from sqlmodel import Session, col, create_engine, select

from tuning.errors import ExitCode, NotFound, ServetuneError
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import RunState, TrialOutcome, TrialState
from tuning.runtime import process_group
from tuning.runtime.settings import data_dir, settings
from tuning.spec import TuningSpec
from tuning.store import migrations
from tuning.store.tables import BenchmarkRound, RunKind, Trial, TuningRun
from tuning.store.tables import now as _now


def _owner_gone(owner: str | None) -> bool:
    """A trial row with no owner predates owners; otherwise its process must be on this host and gone."""
    return owner is None or process_group.owner_gone(owner)


def _held_by_another(owner: str | None) -> bool:
    """Whether a run's owner is another process that lives, or one on another host, which cannot be judged."""
    return owner is not None and owner != process_group.owner_id() and not process_group.owner_gone(owner)


_Row = TypeVar("_Row", TuningRun, Trial)


def as_seen(row: _Row) -> _Row:
    """A run or trial stored as running whose owning process is gone reads as ``abandoned``; nothing is written
    (rows without an owner, from before owners were recorded, read as stored)."""
    if row.state == RunState.running and row.owner is not None and process_group.owner_gone(row.owner):
        row.state = (RunState.abandoned if isinstance(row, TuningRun) else TrialState.abandoned).value
    return row


def database_url() -> str:
    if url := settings().database_url:
        return url
    path = data_dir() / "servetune.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@functools.cache
def _engine(url: str) -> Engine:
    """One engine per database per process; its tables are brought to the newest schema when first opened."""
    engine = create_engine(url, pool_pre_ping=True)
    migrations.upgrade(engine)
    return engine


class RunNotFound(NotFound):
    pass


class RunOwned(ServetuneError, RuntimeError):
    """Another live process runs this run: two processes on one run would measure configurations twice."""

    exit_code = ExitCode.bad_input


def _owned_message(run: TuningRun) -> str:
    host, _, pid = (run.owner or "").rpartition("/")
    rename = "start a run under another name (`servetune tune SPEC --name NEW`)"
    if host == process_group.owner_id().rpartition("/")[0]:
        return (
            f"run {run.name!r} ({run.id}) is being run by process {pid} on this host ({run.owner}): wait for it to "
            f"end or stop it, or {rename}"
        )
    return (
        f"run {run.name!r} ({run.id}) is owned by {run.owner}, a process on host {host!r} that servetune cannot "
        f"check from this one: if it still runs, wait for it to end; if it is gone, {rename}"
    )


class Store:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.engine = _engine(self.url)

    def start_run(
        self, spec: TuningSpec, prefect_flow_run_id: str | None = None, kind: RunKind = RunKind.tune
    ) -> TuningRun:
        """A new run owned by this process; a tuning run is refused (RunOwned) while a live process owns another
        tuning run of the same name."""
        run = TuningRun(
            id=uuid.uuid4().hex[:12],
            name=spec.name,
            engine=spec.engine.name.value,
            model=spec.model.name,
            objective=spec.objective.label,
            maximize=spec.objective.maximize,
            spec=spec.model_dump(mode="json"),
            prefect_flow_run_id=prefect_flow_run_id,
            kind=kind.value,
            owner=process_group.owner_id(),
            started_at=_now(),
        )
        with self._turn(spec.name) as session:
            if kind is RunKind.tune:
                self._refuse_owned(session, spec.name)
            session.add(run)
            session.commit()
            session.refresh(run)
        return run

    @contextmanager
    def _turn(self, name: str) -> Iterator[Session]:
        """A session holding the write lock for runs of this name until it commits: processes opening a run of one
        name take turns, so each sees what the one before it claimed."""
        with Session(self.engine) as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                key = zlib.crc32(f"servetune-run:{name}".encode())
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            elif connection.dialect.name == "sqlite":
                # A deferred transaction that read first could not take the write lock later, only fail.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    def record_environment(self, run_id: str, environment: dict[str, str]) -> None:
        """Where the run runs now (a resumed run records its latest host)."""
        with Session(self.engine) as session:
            run = session.get(TuningRun, run_id)
            if run is None:
                raise RunNotFound(run_id)
            run.environment = environment
            session.add(run)
            session.commit()

    def finish_run(self, run_id: str, state: str, message: str | None, best_trial: int | None) -> None:
        with Session(self.engine) as session:
            run = session.get(TuningRun, run_id)
            if run is None:
                raise RunNotFound(run_id)
            run.state, run.message, run.best_trial, run.finished_at = state, message, best_trial, _now()
            run.owner = None  # the run is free to be resumed
            session.add(run)
            session.commit()

    def resumable_run(self, name: str) -> TuningRun | None:
        """The latest tuning run of this name, unless it completed: re-running the name continues it."""
        with Session(self.engine) as session:
            query = (
                select(TuningRun)
                .where(TuningRun.name == name, TuningRun.kind == RunKind.tune.value)
                .order_by(col(TuningRun.started_at).desc())
            )
            latest = session.exec(query).first()
        return latest if latest is not None and latest.state != RunState.completed else None

    def refuse_if_owned(self, name: str) -> None:
        """RunOwned while another live process owns a tuning run of this name: an early answer, before anything
        starts; :meth:`start_run` and :meth:`reopen_run` decide races."""
        with Session(self.engine) as session:
            self._refuse_owned(session, name)

    @staticmethod
    def _refuse_owned(session: Session, name: str) -> None:
        owned = select(TuningRun).where(
            TuningRun.name == name, TuningRun.kind == RunKind.tune.value, col(TuningRun.owner).is_not(None)
        )
        if live := next((r for r in session.exec(owned) if _held_by_another(r.owner)), None):
            raise RunOwned(_owned_message(live))

    def reopen_run(self, run_id: str, prefect_flow_run_id: str | None) -> TuningRun:
        """Claim an unfinished run for this process and mark it running; RunOwned if another live process owns it.

        The claim only replaces the owner it judged (none, this process, or a dead one), so of two processes
        claiming at once exactly one wins, and the other is refused naming it.
        """
        with self._turn(self.find_run(run_id).name) as session:
            run = session.get(TuningRun, run_id)
            if run is None:
                raise RunNotFound(run_id)
            if _held_by_another(run.owner):
                raise RunOwned(_owned_message(run))
            judged = col(TuningRun.owner).is_(None) if run.owner is None else col(TuningRun.owner) == run.owner
            claim = (
                update(TuningRun)
                .where(col(TuningRun.id) == run_id, judged)
                .values(
                    owner=process_group.owner_id(),
                    state=RunState.running.value,
                    message=None,
                    finished_at=None,
                    prefect_flow_run_id=prefect_flow_run_id or run.prefect_flow_run_id,
                )
            )
            if session.connection().execute(claim).rowcount != 1:
                session.rollback()
                raise RunOwned(_owned_message(self.find_run(run_id)))
            session.commit()
            session.refresh(run)
            return run

    def abandon_dead_trials(self, run_id: str) -> list[int]:
        """Trials still marked running whose process is gone: recorded as failed, their numbers returned."""
        abandoned = []
        with Session(self.engine) as session:
            running = select(Trial).where(Trial.run_id == run_id, Trial.state == TrialState.running.value)
            for trial in session.exec(running):
                if _owner_gone(trial.owner):
                    trial.state, trial.finished_at = TrialState.failed.value, _now()
                    trial.error = (
                        f"abandoned: the process running it ({trial.owner}) ended without recording an outcome"
                    )
                    session.add(trial)
                    abandoned.append(trial.number)
            session.commit()
        return sorted(abandoned)

    def start_trial(self, run_id: str, number: int, params: dict[str, Any], confirms: int | None = None) -> None:
        with Session(self.engine) as session:
            trial = self._trial(session, run_id, number) or Trial(
                run_id=run_id, number=number, params=params, confirms=confirms
            )
            trial.state, trial.started_at, trial.owner = TrialState.running.value, _now(), process_group.owner_id()
            session.add(trial)
            session.commit()

    def finish_trial(self, run_id: str, outcome: TrialOutcome, rounds: list[RoundMetrics]) -> None:
        with Session(self.engine) as session:
            trial = self._trial(session, run_id, outcome.number) or Trial(
                run_id=run_id, number=outcome.number, params=outcome.params, started_at=_now()
            )
            score = outcome.score
            # A trial the ending run already marked interrupted stays so; its own late record adds the details.
            if trial.state != TrialState.interrupted.value:
                trial.state = outcome.state.value
            trial.phase = outcome.phase.value if outcome.phase else None
            trial.error = outcome.error
            trial.command = outcome.command
            trial.log_path, trial.log_tail, trial.results_dir = outcome.log_path, outcome.log_tail, outcome.results_dir
            trial.stopped_early, trial.saved_seconds = outcome.stopped_early, outcome.saved_seconds
            trial.engine_started_at, trial.engine_stopped_at = outcome.engine_started_at, outcome.engine_stopped_at
            trial.feasible = score.feasible if score else None
            trial.score = score.value if score else None
            trial.objective_value = score.objective_value if score else None
            trial.penalty = score.penalty if score else None
            trial.violations = [v.model_dump() for v in score.violations] if score else []
            trial.constraints = score.constraints if score else []
            trial.objective_scores = score.objective_scores if score and score.objective_scores else None
            trial.capacity = score.capacity if score and score.capacity else None
            for phase in ("deploy", "ready", "benchmark", "cleanup", "total"):
                setattr(trial, f"{phase}_seconds", outcome.timings.get(phase))
            trial.finished_at = _now()
            session.add(trial)
            session.flush()
            assert trial.id is not None, "the flush gave the trial its id"
            for old in session.exec(select(BenchmarkRound).where(BenchmarkRound.trial_id == trial.id)):
                session.delete(old)
            for round_ in rounds:
                session.add(BenchmarkRound(trial_id=trial.id, **round_.model_dump()))
            session.commit()

    @staticmethod
    def _trial(session: Session, run_id: str, number: int) -> Trial | None:
        query = select(Trial).where(Trial.run_id == run_id, Trial.number == number)
        return session.exec(query).first()

    def mark_front(self, run_id: str, numbers: list[int]) -> None:
        """Record which trials are on the run's Pareto front (the run's ``best_trial`` is the one picked)."""
        with Session(self.engine) as session:
            for trial in session.exec(select(Trial).where(Trial.run_id == run_id)):
                trial.on_front = trial.number in numbers
                session.add(trial)
            session.commit()

    def trial(self, run_id: str, number: int) -> Trial | None:
        with Session(self.engine) as session:
            trial = self._trial(session, run_id, number)
        return as_seen(trial) if trial is not None else None

    def record_not_run(self, run_id: str, number: int, params: dict[str, Any], state: TrialState, why: str) -> None:
        """A configuration the search asked for but that was not run (``repeated`` or ``rejected``), and why."""
        with Session(self.engine) as session:
            now = _now()
            session.add(
                Trial(
                    run_id=run_id,
                    number=number,
                    params=params,
                    state=state.value,
                    error=why,
                    started_at=now,
                    finished_at=now,
                )
            )
            session.commit()

    def record_lost(self, run_id: str, number: int, params: dict[str, Any], why: str) -> bool:
        """A trial whose run ended elsewhere without an outcome recorded (missing or still running): failed, why.

        Returns whether anything was recorded; a trial that recorded its own outcome is left as it is.
        """
        with Session(self.engine) as session:
            trial = self._trial(session, run_id, number)
            if trial is not None and trial.state != TrialState.running.value:
                return False
            trial = trial or Trial(run_id=run_id, number=number, params=params, started_at=_now())
            trial.state, trial.error, trial.finished_at = TrialState.failed.value, why, _now()
            session.add(trial)
            session.commit()
        return True

    def interrupt_trials(self, run_id: str) -> list[int]:
        """Trials of this run that this process still runs: recorded as interrupted (the run is ending)."""
        me = process_group.owner_id()
        with Session(self.engine) as session:
            running = select(Trial).where(
                Trial.run_id == run_id, Trial.state == TrialState.running.value, Trial.owner == me
            )
            numbers = []
            for trial in session.exec(running):
                trial.state, trial.finished_at = TrialState.interrupted.value, _now()
                trial.error = trial.error or "interrupted: the tuning run was stopped while this trial ran"
                session.add(trial)
                numbers.append(trial.number)
            session.commit()
        return sorted(numbers)

    def runs(self, limit: int = 20) -> list[TuningRun]:
        with Session(self.engine) as session:
            query = select(TuningRun).order_by(col(TuningRun.started_at).desc()).limit(limit)
            return [as_seen(r) for r in session.exec(query)]

    def find_run(self, ref: str) -> TuningRun:
        """A run by id, id prefix, or name (the latest tuning run of that name; a recheck only if there is none)."""
        with Session(self.engine) as session:
            if run := session.get(TuningRun, ref):
                return as_seen(run)
            by_prefix = list(session.exec(select(TuningRun).where(col(TuningRun.id).startswith(ref))))
            if len(by_prefix) == 1:
                return as_seen(by_prefix[0])
            query = (
                select(TuningRun)
                .where(TuningRun.name == ref)
                .order_by(col(TuningRun.kind) != RunKind.tune.value, col(TuningRun.started_at).desc())
            )
            if run := session.exec(query).first():
                return as_seen(run)
        raise RunNotFound(f"no run with id or name {ref!r} in {self.safe_url}")

    def trials(self, run_id: str) -> list[Trial]:
        with Session(self.engine) as session:
            query = select(Trial).where(Trial.run_id == run_id).order_by(col(Trial.number))
            return [as_seen(t) for t in session.exec(query)]

    def rounds(self, trial_id: int) -> list[BenchmarkRound]:
        with Session(self.engine) as session:
            query = select(BenchmarkRound).where(BenchmarkRound.trial_id == trial_id)
            return list(session.exec(query.order_by(col(BenchmarkRound.scenario), col(BenchmarkRound.concurrency))))

    @property
    def safe_url(self) -> str:
        """The database URL with any password masked, fit for logs and messages."""
        return self.engine.url.render_as_string(hide_password=True)
