"""The nightly check: measure a tuning target's best configuration again, and fail when it has regressed."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from deployers import deployer_for
from flows._run_lifecycle import RunLifecycle
from flows.tune import tune
from tuning.errors import NotFound
from tuning.evaluation.outcome import RunState, TrialState
from tuning.report.history import (
    HistoryEntry,
    UnknownTarget,
    Verdict,
    history_rows,
    judge,
    known_targets,
    target_history,
)
from tuning.spec import Configuration, TuningSpec
from tuning.store import RunKind, Store, Trial, TuningRun

_HISTORY_SHOWN = 10


class NothingToRecheck(NotFound):
    """The target has no completed tuning run with a best configuration."""


class RegressionDetected(RuntimeError):
    """The recheck failed, broke a hard SLO, or scored worse than the baseline beyond the spec's threshold."""


class RegressionSummary(BaseModel):
    target: str
    tuned_run_id: str = Field(description="The tuning run whose best configuration was measured again")
    recheck_run_id: str
    params: Configuration
    score: float | None
    baseline: float | None
    baseline_source: str | None
    change: float | None = Field(description="(score - baseline) / |baseline|, signed as measured")
    regressed: bool
    message: str


def _tune_runs(store: Store, target: str) -> list[TuningRun]:
    with Session(store.engine) as session:
        query = (
            select(TuningRun)
            .where(TuningRun.name == target, TuningRun.kind == RunKind.tune.value)
            .order_by(col(TuningRun.started_at))
        )
        runs = list(session.exec(query))
    if not runs:
        known = ", ".join(known_targets(store)) or "none yet"
        raise UnknownTarget(f"no tuning target named {target!r} in {store.safe_url}; known targets: {known}")
    return runs


def _latest_best(store: Store, target: str) -> tuple[TuningRun, Trial]:
    """The newest completed tuning run of the target, and its best trial: the configuration measured again."""
    completed = [r for r in _tune_runs(store, target) if r.state == RunState.completed]
    if not completed or completed[-1].best_trial is None:
        why = "no tuning run of it completed" if not completed else f"its latest run {completed[-1].id} found none"
        raise NothingToRecheck(f"{target!r} has no best configuration to recheck: {why}")
    run = completed[-1]
    assert run.best_trial is not None  # checked above
    best = store.trial(run.id, run.best_trial)
    if best is None:
        raise NothingToRecheck(f"run {run.id} names trial {run.best_trial} as its best, but it is not stored")
    return run, best


def _markdown_table(rows: list[dict[str, str]]) -> list[str]:
    headers = list(rows[0]) if rows else []
    return [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
        *["| " + " | ".join(row[h].replace("|", "\\|") for h in headers) + " |" for row in rows],
    ]


def _run_state(entry: HistoryEntry, regressed: bool) -> RunState:
    if not regressed:
        return RunState.completed
    return RunState.failed if entry.score is None else RunState.regressed  # failed: no measurement


def _comparison(target: str, entry: HistoryEntry, verdict: Verdict, history: list[HistoryEntry]) -> str:
    base = entry.baseline
    [row] = history_rows([entry])
    lines = [
        f"# Recheck of `{target}`: {'regression' if verdict.regressed else 'no regression'}",
        "",
        verdict.message,
        "",
        "| | |",
        "| --- | --- |",
        f"| configuration | `{row['configuration']}` |",
        f"| objective | {entry.objective} ({'higher' if entry.maximize else 'lower'} is better) |",
        f"| baseline | {row['baseline'] or 'none'} ({base.source if base else 'no earlier measurement'}) |",
        f"| recheck | {row['score'] or 'no score'} (run {entry.run_id}) |",
        f"| change | {row['change'] or 'n/a'} |",
        f"| threshold | {entry.regression.threshold:.1%} worse ({entry.regression.baseline.value} baseline) |",
        "",
        f"## History (latest {min(len(history), _HISTORY_SHOWN)})",
        "",
        *_markdown_table(history_rows(history[-_HISTORY_SHOWN:])),
    ]
    return "\n".join(lines) + "\n"


@flow(name="regression", flow_run_name="regression-{target}")
def regression(target: str, retune: bool = False) -> RegressionSummary:
    """Benchmark the best configuration of a tuning target again, and fail the run if it has regressed.

    The recheck is stored as a run of kind `recheck` under the target's name, and compared with the baseline
    the target's spec names (`regression` section). A recheck that fails, breaks a hard SLO, or scores worse
    than the baseline by more than the threshold fails this flow run.

    Args:
        target: Name of the tuning target: the run name its tuning runs were stored under.
        retune: Tune the target again first (a fresh run with its latest spec), then recheck that run's best.
    """
    logger = get_run_logger()
    store = Store()
    if retune:
        latest_spec = TuningSpec.model_validate(_tune_runs(store, target)[-1].spec)
        logger.info("re-tuning %r before the recheck", target)
        tune(latest_spec, fresh=True)
    tuned, best = _latest_best(store, target)
    spec = TuningSpec.model_validate(tuned.spec)
    # Trials run on the pool the target's spec names, as its tuning trials ran.
    with RunLifecycle(spec, store, deployer_for(spec), kind=RunKind.recheck) as recheck:
        logger.info("recheck run %s: trial %d of run %s again: %s", recheck.id, best.number, tuned.id, best.params)
        # `confirms` names the trial measured again; it also keeps the trial away from a study this run has not.
        recheck.trials.start(0, best.params, confirms=best.number)
        recheck.trials.wait_finished()
        recorded = store.trial(recheck.id, 0)
        if recorded is None or recorded.state == TrialState.interrupted:
            raise KeyboardInterrupt("the recheck trial was interrupted")
        entry = next(e for e in target_history(store, target) if e.run_id == recheck.id)
        verdict = judge(target, entry)
        recheck.conclude(_run_state(entry, verdict.regressed), verdict.message, 0 if entry.feasible else None)
    message = verdict.message
    history = target_history(store, target)
    entry = next(e for e in history if e.run_id == recheck.id)
    create_markdown_artifact(
        _comparison(target, entry, verdict, history), key=f"{target}-regression", description=message
    )
    if verdict.regressed:
        raise RegressionDetected(message)
    return RegressionSummary(
        target=target,
        tuned_run_id=tuned.id,
        recheck_run_id=recheck.id,
        params=best.params,
        score=entry.score,
        baseline=entry.baseline.value if entry.baseline else None,
        baseline_source=entry.baseline.source if entry.baseline else None,
        change=entry.change,
        regressed=False,
        message=message,
    )
