"""What earlier runs measured that a new run can start from (``warm_start``): runs of the same model, engine and
version, hardware class and workload, scored on the same objectives and SLOs.

A run's measurements only transfer where everything that decides them is the same; the search space may differ,
and only configurations inside the new one are used (``Search.learn`` and ``Search.first_candidates`` check).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import fmean

from pydantic import ValidationError
from sqlmodel import Session, col, select

from tuning.evaluation.outcome import RunState, measured_runs, scored
from tuning.search.known import KnownResult
from tuning.spec import TuningSpec
from tuning.store._store import Store, as_seen
from tuning.store.tables import RunKind, Trial, TuningRun

# The run's environment entry that says which earlier runs it learnt from.
WARM_START_KEY = "warm start"
# The spec sections whose every field decides what a trial measures and how it is scored.
_SAME_SECTIONS = ("model", "benchmark", "objectives", "slos")


def hardware_class(environment: Mapping[str, str], spec: TuningSpec) -> str:
    """The kind of machine a run's trials ran on: its work pool, else the GPUs the flow's host has, else its CPU."""
    if spec.hardware.pool:
        return f"work pool {spec.hardware.pool}"
    gpus = environment.get("GPUs", "")
    return gpus if gpus and not gpus.startswith("none") else environment.get("CPU", "unknown")


def _differences(earlier: TuningRun, spec: TuningSpec, environment: Mapping[str, str]) -> list[str]:
    """What differs between an earlier run and the new one, in the words a log line uses; empty when it matches."""
    try:
        earlier_spec = TuningSpec.model_validate(earlier.spec)
    except ValidationError:
        return ["its spec no longer validates"]
    stored, current = earlier_spec.model_dump(mode="json"), spec.model_dump(mode="json")
    found = [section for section in _SAME_SECTIONS if stored.get(section) != current.get(section)]
    for key in ("name", "args"):
        if stored["engine"].get(key) != current["engine"].get(key):
            found.append(f"engine.{key}")
    before = earlier.environment or {}
    if before.get("engine version") != environment.get("engine version"):
        found.append(f"engine version ({before.get('engine version')} then, {environment.get('engine version')} now)")
    if hardware_class(before, earlier_spec) != hardware_class(environment, spec):
        found.append("hardware class")
    return found


def _known(trials: list[Trial], run: TuningRun, objectives: int) -> list[KnownResult]:
    """A run's measured configurations (not the defaults), each the mean of every measurement of it."""

    known = []
    for trial in trials:
        if trial.confirms is not None or not trial.params or not scored(trial):
            continue
        runs = measured_runs(trial, trials, scored)
        if objectives > 1:
            columns = [t.objective_scores for t in runs if t.objective_scores and len(t.objective_scores) == objectives]
            values = [fmean(column) for column in zip(*columns, strict=True)] if columns else []
        else:
            values = [fmean(float(t.score) for t in runs if t.score is not None)]
        if len(values) != objectives:
            continue
        known.append(
            KnownResult(
                params=dict(trial.params),
                values=values,
                constraints=list(trial.constraints),
                feasible=all(bool(t.feasible) for t in runs),
                source=f"run {run.name} ({run.id}) trial {trial.number}",
            )
        )
    return known


@dataclass
class WarmStart:
    """The earlier runs a new run learns from, what they measured, and the runs left out with the reason."""

    runs: list[TuningRun] = field(default_factory=list)
    known: list[KnownResult] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def describe(self, used: int) -> str:
        """``used``: how many of the known results fitted the new search space."""
        if not self.runs:
            return "no earlier run matched"
        names = ", ".join(f"{run.name} ({run.id})" for run in self.runs)
        return f"{used} configuration(s) measured by {len(self.runs)} earlier run(s): {names}"


def earlier_measurements(store: Store, spec: TuningSpec, environment: Mapping[str, str], exclude: str) -> WarmStart:
    """Completed tuning runs matching ``spec`` on this ``environment`` (``warm_start.runs`` narrows them by name),
    newest first, and their measured configurations. ``exclude`` is the new run's own id."""
    with Session(store.engine) as session:
        query = (
            select(TuningRun)
            .where(TuningRun.kind == RunKind.tune.value, TuningRun.state == RunState.completed.value)
            .where(TuningRun.id != exclude)
            .order_by(col(TuningRun.started_at).desc())
        )
        if spec.warm_start.runs:
            query = query.where(col(TuningRun.name).in_(spec.warm_start.runs))
        candidates = [as_seen(run) for run in session.exec(query)]
    warm = WarmStart()
    for run in candidates:
        if differences := _differences(run, spec, environment):
            warm.left_out.append(f"{run.name} ({run.id}): different {', '.join(differences)}")
            continue
        warm.runs.append(run)
        warm.known.extend(_known(store.trials(run.id), run, len(spec.objectives)))
    return warm
