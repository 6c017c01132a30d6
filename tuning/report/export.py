"""What a run holds, for programs: ``servetune show RUN --json``.

The run, every trial it recorded (parameters, state, score, feasibility, the time of each phase) and each trial's
benchmark rounds with every metric. The field names are the store's columns, which are the spec's and
``RoundMetrics``' own names, so a script reads the same words the docs use. Nothing is computed here that the
store does not hold, except ``overhead``: a trial's wall time over the time its engine was ready and measured.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tuning.store import Store, TuningRun

SCHEMA_VERSION = 1
"""Raised when a field is renamed or removed; adding one keeps it."""

# Internal keys that say nothing about the measurement: row ids and the foreign key back to the parent.
_ROW_KEYS = {"id", "trial_id", "run_id"}


class TrialExport(BaseModel):
    """One trial's stored row (its columns as keys), its rounds, and its overhead ratio."""

    model_config = {"extra": "allow"}

    rounds: list[dict[str, Any]] = Field(description="Every benchmark round, with every RoundMetrics column")
    overhead: float | None = Field(
        description="total_seconds / (ready_seconds + benchmark request time): 1.0 would mean no time was spent "
        "outside starting the engine and sending requests; None when the trial measured nothing"
    )


class RunExport(BaseModel):
    schema_version: int = SCHEMA_VERSION
    run: dict[str, Any]
    trials: list[TrialExport]


def request_seconds(rounds: list[dict[str, Any]]) -> float:
    """The time a trial's requests took: the sum of its rounds' ``duration``."""
    return sum(r["duration"] for r in rounds if r.get("duration"))


def _overhead(trial: dict[str, Any], rounds: list[dict[str, Any]]) -> float | None:
    requests = request_seconds(rounds)
    total, ready = trial.get("total_seconds"), trial.get("ready_seconds")
    if not total or ready is None or requests <= 0:
        return None
    return total / (ready + requests)


def run_export(store: Store, run: TuningRun) -> RunExport:
    trials = []
    for trial in store.trials(run.id):
        assert trial.id is not None
        row = trial.model_dump(mode="json", exclude=_ROW_KEYS)
        rounds = [r.model_dump(mode="json", exclude=_ROW_KEYS) for r in store.rounds(trial.id)]
        trials.append(TrialExport(**row, rounds=rounds, overhead=_overhead(row, rounds)))
    return RunExport(run=run.model_dump(mode="json"), trials=trials)


def _field_rows(model: type[BaseModel], skip: set[str] = _ROW_KEYS) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        kind = getattr(field.annotation, "__name__", None) or str(field.annotation).replace("typing.", "")
        kind = kind.replace("datetime.datetime", "timestamp").replace(" | None", " or null")
        rows.append(f"| `{name}` | {kind} | {field.description or ''} |")
    return rows


def reference_markdown() -> str:
    """The field reference of ``servetune show RUN --json`` (docs/results-json.md), from the models themselves."""
    from tuning.evaluation.metrics import RoundMetrics
    from tuning.store import Trial

    header = ["| field | type | meaning |", "| --- | --- | --- |"]
    sections: list[tuple[str, type[BaseModel], set[str]]] = [
        ("`run`: the run's stored row", TuningRun, _ROW_KEYS - {"id"}),
        ("`trials[]`: each trial's stored row, plus `rounds` and `overhead`", Trial, _ROW_KEYS),
        ("`trials[].rounds[]`: each benchmark round", RoundMetrics, _ROW_KEYS),
    ]
    parts = []
    for title, model, skip in sections:
        parts += [f"### {title}", "", *header, *_field_rows(model, skip)]
        if model is Trial:
            parts += _field_rows(TrialExport)
        parts.append("")
    return "\n".join(parts)
