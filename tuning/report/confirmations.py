"""How the confirmed leaders held up: each configuration measured more than once, with the spread of its scores.

A confirmation is a trial whose ``confirms`` names the search trial it measures again; the search trial and its
confirmations that succeeded are the configuration's measurements, as ranking reads them.
"""

from __future__ import annotations

from statistics import fmean, median

from tuning.evaluation.outcome import TrialState
from tuning.evaluation.pareto import Goal, pareto_front
from tuning.evaluation.ranking import confirmation_note, front_confirmation_note, params_text
from tuning.report.leaderboard import Block, Paragraph, Table
from tuning.store import Store, Trial, TuningRun


def _counted(trial: Trial) -> bool:
    return trial.state == TrialState.succeeded and trial.score is not None


def _values(trial: Trial, goal: Goal) -> list[float]:
    """The trial's score, or with several objectives its score per objective."""
    if goal.multi:
        return list(trial.objective_scores or [])
    return [] if trial.score is None else [trial.score]


def _spread(values: list[float]) -> str:
    low, high, mean = min(values), max(values), fmean(values)
    relative = f" (±{50 * (high - low) / abs(mean):.1f}%)" if mean else ""
    return f"{low:.4g} / {median(values):.4g} / {high:.4g}; mean {mean:.4g}{relative}"


def confirmation_blocks(store: Store, run: TuningRun) -> list[Block]:
    """One row per configuration measured more than once: its runs, and per objective min / median / max and the
    mean ± half the range. Empty when nothing was confirmed."""
    trials = store.trials(run.id)
    goal = Goal.of_stored_spec(run.spec)
    names = goal.names if goal.multi else [run.objective]
    rows = []
    for trial in trials:
        again = [t for t in trials if t.confirms == trial.number]
        if trial.confirms is not None or not again:
            continue
        # Every measurement of the configuration, as ranking counts them (``measured_runs``).
        runs = [t for t in [trial, *again] if _counted(t) and len(_values(t, goal)) == len(names)]
        columns = list(zip(*(_values(t, goal) for t in runs), strict=True)) if runs else []
        counted = {t.number for t in runs}
        not_counted = [f"trial {t.number} {t.state}" for t in [trial, *again] if t.number not in counted]
        infeasible = [str(t.number) for t in runs if t.feasible is False]
        rows.append(
            (
                str(trial.number),
                params_text(trial.params),
                ", ".join(str(t.number) for t in runs),
                *(_spread(list(column)) for column in columns),
                *([""] * (len(names) - len(columns))),
                "; ".join(
                    [*not_counted, *([f"broke a hard SLO in trial {', '.join(infeasible)}"] if infeasible else [])]
                ),
            )
        )
    if not rows:
        return []
    if goal.multi:
        note = front_confirmation_note(trials, pareto_front(trials, goal))
    else:
        note = confirmation_note(trials, run.maximize)
    # The last column says which measurements did not count; left out when every one did.
    keep = len(rows[0]) if any(row[-1] for row in rows) else len(rows[0]) - 1
    headers = ("trial", "params", "measured in trials", *(f"{name}: min / median / max" for name in names))
    return [
        *([Paragraph((f"{note}.",))] if note else []),
        Table((*headers, "not counted")[:keep], tuple(row[:keep] for row in rows)),
    ]
