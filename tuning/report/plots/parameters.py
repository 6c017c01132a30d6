"""What the tuned flags did: the score against each one, and how much of the score's variance each explains."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.importance import FanovaImportanceEvaluator, get_param_importances
from optuna.trial import TrialState as OptunaTrialState

from tuning.report.figure import Figure
from tuning.report.plots._canvas import drawing, rendered
from tuning.report.plots._run import RunView
from tuning.search.study import study_name, study_storage
from tuning.store import Trial

EFFECTS_KEY = "parameter-effects"
IMPORTANCE_KEY = "parameter-importance"
# fANOVA fits a random forest to the told trials; fewer than this many say nothing about variance.
MIN_TRIALS = 3
SEED = 0  # the forest's: the same study gives the same importances
COLUMNS = 3


@dataclass(frozen=True)
class Importance:
    """The importances, or why there are none."""

    values: dict[str, float]
    why_not: str | None = None


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def parameter_effects(view: RunView, importance: Importance) -> Figure | None:
    trials = [t for t in view.measured() if t.score is not None]
    names = [n for n in view.parameters if any(n in t.params for t in trials)]
    if not trials or not names:
        return None
    rows = math.ceil(len(names) / COLUMNS)
    columns = min(COLUMNS, len(names))
    figure = drawing(height=max(2.6, 2.4 * rows + 0.6))
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        _effect(axes, name, [t for t in trials if name in t.params])
        axes.set_title(name, fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        if index % columns == 0:
            axes.set_ylabel("score", fontsize=8)
    figure.suptitle(f"score: {view.run.objective}", fontsize=9)
    caption = (
        "The score of each measured trial against the value of each tuned flag (filled: feasible; hollow: a hard "
        "SLO broken); a clear slope or gap means the flag matters, a flat cloud that it did not in this range."
    )
    if importance.why_not:
        caption += f" No importance plot: {importance.why_not}."
    return rendered(EFFECTS_KEY, "Parameter effects", caption, figure)


def _effect(axes: Any, name: str, trials: list[Trial]) -> None:
    values = [t.params[name] for t in trials]
    if _numeric(values):
        xs: list[float] = [float(v) for v in values]
        positive = [x for x in xs if x > 0]
        if len(positive) == len(xs) and max(xs) / min(xs) >= 16:
            axes.set_xscale("log", base=2)
    else:
        categories = sorted({str(v) for v in values})
        xs = [float(categories.index(str(v))) for v in values]
        axes.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 3 else 0)
        axes.set_xlim(-0.5, len(categories) - 0.5)
    for feasible in (True, False):
        chosen = [(x, t.score) for x, t in zip(xs, trials, strict=True) if bool(t.feasible) is feasible]
        if chosen:
            axes.scatter(
                [x for x, _ in chosen],
                [y for _, y in chosen],
                s=24,
                facecolors="#1f77b4" if feasible else "none",
                edgecolors="#1f77b4" if feasible else "#ff7f0e",
            )


def importance(view: RunView) -> Importance:
    """fANOVA over the run's Optuna study, on the objective that ranks."""
    if len(view.parameters) < 2:
        return Importance({}, "only one flag was tuned, so there is nothing to compare it with")
    try:
        study = optuna.load_study(study_name=study_name(view.run.id), storage=study_storage(view.store.url))
    except KeyError:
        return Importance({}, "the run's Optuna study is not in the database")
    completed = study.get_trials(deepcopy=False, states=(OptunaTrialState.COMPLETE,))
    if len(completed) < MIN_TRIALS:
        return Importance({}, f"{len(completed)} trial(s) told a score so far; fANOVA needs at least {MIN_TRIALS}")
    varied = {name for t in completed for name in t.params}
    if len({repr(sorted(t.params.items())) for t in completed}) < 2 or len(varied) < 2:
        return Importance({}, "the scored trials do not vary two flags yet")
    ranks = view.goal.best_index
    try:
        values = get_param_importances(
            study,
            evaluator=FanovaImportanceEvaluator(seed=SEED),
            target=lambda trial: trial.values[ranks],
            normalize=True,
        )
    except (ImportError, ValueError, RuntimeError) as exc:
        return Importance({}, f"fANOVA could not be computed ({type(exc).__name__}: {exc})")
    return Importance(dict(values))


def parameter_importance(view: RunView, importance: Importance) -> Figure | None:
    if importance.why_not or not importance.values:
        return None
    names = list(importance.values)[::-1]  # the most important on top
    figure = drawing(height=max(2.5, 0.45 * len(names) + 1.2))
    axes = figure.add_subplot()
    shares = [importance.values[n] for n in names]
    axes.barh(names, shares, color="#1f77b4")
    for y, share in enumerate(shares):
        axes.annotate(f"{share:.0%}", (share, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    axes.set_xlim(0, max(1.0, max(shares) * 1.1))
    axes.set_xlabel(f"share of the variance of {view.goal.names[view.goal.best_index]} (fANOVA)")
    axes.grid(axis="x", alpha=0.3)
    caption = (
        "How much of the score's variation across the scored trials each tuned flag explains on its own, by "
        f"fANOVA on the run's Optuna study (seed {SEED}); with few trials it is a rough guide, not a measurement."
    )
    return rendered(IMPORTANCE_KEY, "Parameter importance", caption, figure)
