"""A tuning target's history: its tuning runs and rechecks in time order, each scored and set against a baseline.

A target is a run name. Its tuning runs search for the best configuration; its rechecks (the `regression`
flow) measure the best configuration of the latest completed tuning run again. The baseline an entry is
compared with comes only from the entries before it, by the rule its spec's ``regression`` section names,
so the history reads the same whenever it is printed.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median

from pydantic import BaseModel
from sqlmodel import Session, col, select

from tuning.errors import NotFound
from tuning.evaluation.outcome import RunState, TrialState
from tuning.evaluation.ranking import candidate
from tuning.spec import Configuration, RegressionBaseline, RegressionSpec
from tuning.store import RunKind, Store, Trial, TuningRun, as_seen


class UnknownTarget(NotFound):
    """No tuning run has this name; the message lists the names that have one."""


class Baseline(BaseModel):
    value: float
    source: str  # how it was found, for messages: which run, which rule


class HistoryEntry(BaseModel):
    """One tuning run or recheck of a target, with its best (or rechecked) configuration and score."""

    run_id: str
    kind: RunKind
    state: RunState
    started_at: datetime | None
    objective: str
    maximize: bool
    regression: RegressionSpec
    trial: int | None = None  # tuning run: its best trial; recheck: the trial that measured again
    params: Configuration | None = None
    score: float | None = None  # tuning run: mean over the best trial and its confirmations
    measurements: int = 0
    feasible: bool | None = None
    note: str = ""  # why a recheck failed or which hard SLO it broke
    baseline: Baseline | None = None
    change: float | None = None  # (score - baseline) / |baseline|, signed as measured

    @property
    def worse_by(self) -> float | None:
        """The relative change in the objective's bad direction: a throughput drop, a latency rise."""
        if self.change is None:
            return None
        return -self.change if self.maximize else self.change


class Verdict(BaseModel):
    regressed: bool
    message: str


def known_targets(store: Store) -> list[str]:
    with Session(store.engine) as session:
        names = session.exec(select(TuningRun.name).where(TuningRun.kind == RunKind.tune.value).distinct())
        return sorted(names)


def _runs_of(store: Store, target: str) -> list[TuningRun]:
    with Session(store.engine) as session:
        query = select(TuningRun).where(TuningRun.name == target).order_by(col(TuningRun.started_at), col(TuningRun.id))
        return [as_seen(r) for r in session.exec(query)]


def _params_text(params: Configuration | None) -> str:
    if params is None:
        return ""
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(engine defaults)"


def _hard_violations(trial: Trial) -> str:
    broken = sorted(
        {
            f"{v['slo']} at {v['scenario']} x{v['concurrency']} (observed {v['observed']:.4g})"
            for v in trial.violations
            if v.get("hard")
        }
    )
    return "breaks a hard SLO: " + "; ".join(broken) if broken else "breaks a hard SLO"


def _entry(store: Store, run: TuningRun) -> HistoryEntry:
    entry = HistoryEntry(
        run_id=run.id,
        kind=RunKind(run.kind),
        state=RunState(run.state),
        started_at=run.started_at,
        objective=run.objective,
        maximize=run.maximize,
        # Only this section is read: an older stored spec may not validate against today's full schema.
        regression=RegressionSpec.model_validate(run.spec.get("regression") or {}),
    )
    trials = store.trials(run.id)
    if entry.kind is RunKind.tune:
        best = candidate(trials, run.best_trial)  # the run's best, as the run decided and stored it
        if best is not None:
            entry.trial, entry.params, entry.feasible = best.trial.number, dict(best.trial.params), best.feasible
            entry.score, entry.measurements = best.mean, len(best.scores)
        elif entry.state is RunState.completed:
            entry.note = "no configuration met every hard SLO"
        return entry
    measured = trials[0] if trials else None
    if measured is None or measured.state == TrialState.running:
        return entry
    entry.trial, entry.params, entry.feasible = measured.number, measured.params, measured.feasible
    if measured.state == TrialState.succeeded and measured.score is not None:
        entry.score, entry.measurements = measured.score, 1
        if not measured.feasible:
            entry.note = _hard_violations(measured)
    else:
        entry.feasible = False
        first_line = next(iter((measured.error or "").strip().splitlines()), "no error recorded")
        entry.note = f"{measured.state} in {measured.phase or '?'}: {first_line}"
    return entry


def baseline(earlier: list[HistoryEntry], regression: RegressionSpec) -> Baseline | None:
    """What the next entry is compared with, from the entries before it (oldest first); None if nothing yet."""
    tuned_at = next(
        (
            i
            for i in range(len(earlier) - 1, -1, -1)
            if earlier[i].kind is RunKind.tune and earlier[i].state is RunState.completed
        ),
        None,
    )
    if tuned_at is None or earlier[tuned_at].score is None:
        return None
    tuned = earlier[tuned_at]
    best = Baseline(
        value=tuned.score,
        source=f"best: run {tuned.run_id} trial {tuned.trial}, mean of {tuned.measurements} measurement(s)",
    )
    rechecks = [e for e in earlier[tuned_at + 1 :] if e.kind is RunKind.recheck and e.feasible and e.score is not None]
    if regression.baseline is RegressionBaseline.best or not rechecks:
        return best
    if regression.baseline is RegressionBaseline.last:
        last = rechecks[-1]
        return Baseline(value=last.score, source=f"last: recheck run {last.run_id}")
    window = rechecks[-regression.window :]
    return Baseline(
        value=median(e.score for e in window if e.score is not None),
        source=f"median of the last {len(window)} recheck(s) since run {tuned.run_id}",
    )


def _relative_change(score: float | None, base: Baseline | None) -> float | None:
    if score is None or base is None or base.value == 0:
        return None
    return (score - base.value) / abs(base.value)


def _against_threshold(worse_by: float, threshold: float) -> str:
    if worse_by <= 0:
        return "no worse than the baseline"
    return f"{'beyond' if worse_by > threshold else 'within'} the {threshold:.1%} threshold"


def target_history(store: Store, target: str) -> list[HistoryEntry]:
    """Every tuning run and recheck of ``target``, oldest first, each compared with the baseline before it."""
    runs = _runs_of(store, target)
    if not any(run.kind == RunKind.tune for run in runs):
        known = ", ".join(known_targets(store)) or "none yet"
        raise UnknownTarget(f"no tuning target named {target!r} in {store.safe_url}; known targets: {known}")
    entries: list[HistoryEntry] = []
    for run in runs:
        entry = _entry(store, run)
        entry.baseline = baseline(entries, entry.regression)
        entry.change = _relative_change(entry.score, entry.baseline)
        if entry.kind is RunKind.recheck and not entry.note and entry.worse_by is not None:
            entry.note = _against_threshold(entry.worse_by, entry.regression.threshold)
        entries.append(entry)
    return entries


def judge(target: str, entry: HistoryEntry) -> Verdict:
    """Whether a recheck regressed: it failed, broke a hard SLO, or is worse than the baseline beyond the threshold."""
    threshold = entry.regression.threshold
    config = f"configuration {_params_text(entry.params)}"
    base = entry.baseline
    against = f"baseline {entry.objective} {base.value:.6g} ({base.source})" if base else "no baseline"
    measured = "" if entry.score is None else f", measured {entry.score:.6g}"
    if entry.score is None or not entry.feasible:
        return Verdict(
            regressed=True,
            message=f"{target} regressed: {config} {entry.note or 'did not meet its SLOs'} in recheck run "
            f"{entry.run_id}{measured}; {against}",
        )
    if base is None:
        return Verdict(regressed=False, message=f"{target}: {config} measured {entry.score:.6g}; no baseline yet")
    worse = entry.worse_by
    change = "n/a" if entry.change is None else f"{entry.change:+.1%}"
    regressed = worse is not None and worse > threshold
    verdict = "regressed" if regressed else "holds"
    limit = "not comparable to a baseline of 0" if worse is None else _against_threshold(worse, threshold)
    return Verdict(
        regressed=regressed,
        message=f"{target} {verdict}: {config} measured {entry.objective} {entry.score:.6g} in recheck run "
        f"{entry.run_id} against {against}: a change of {change}, {limit}",
    )


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _change_text(entry: HistoryEntry) -> str:
    if entry.change is None or entry.worse_by is None:
        return ""
    word = "worse" if entry.worse_by > 0 else "better" if entry.worse_by < 0 else "same"
    return f"{entry.change:+.1%} ({word})"


def _note(entry: HistoryEntry) -> str:
    if entry.kind is RunKind.tune:
        return f"mean of {entry.measurements} measurement(s)" if entry.measurements > 1 else entry.note
    return entry.note


def history_rows(entries: list[HistoryEntry]) -> list[dict[str, str]]:
    """The history as table rows (``report.text_table`` prints them)."""
    return [
        {
            "date": f"{e.started_at:%Y-%m-%d %H:%M}" if e.started_at else "",
            "run": e.run_id,
            "kind": e.kind.value,
            "state": e.state,
            "configuration": _params_text(e.params),
            "score": _fmt(e.score),
            "baseline": _fmt(e.baseline.value if e.baseline else None),
            "change": _change_text(e),
            "note": _note(e),
        }
        for e in entries
    ]
