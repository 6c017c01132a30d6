"""Search progress: each trial's score in trial order, with the best feasible score so far."""

from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from tuning.evaluation.defaults import Measurements, defaults_trial
from tuning.evaluation.outcome import TrialState, measured_runs, scored
from tuning.report.figure import Figure
from tuning.report.plots._canvas import Mark, drawing, mark_picked, rendered
from tuning.report.plots._run import RunView
from tuning.store import Trial

KEY = "search-progress"

FEASIBLE = Mark("feasible", "o", "#1f77b4")
INFEASIBLE = Mark("infeasible: a hard SLO broken", "X", "#ff7f0e")
PRUNED = Mark("pruned", "v", "#7f7f7f")
REPEATED = Mark("repeated: result reused", "s", "#9467bd", hollow=True)
CONFIRMATION = Mark("confirmation run", "D", "#17becf")
# No score: drawn on the bottom axis.
UNSCORED: dict[str, Mark] = {
    TrialState.failed: Mark("failed", "X", "#d62728"),
    TrialState.timed_out: Mark("timed out", "^", "#e377c2"),
    TrialState.rejected: Mark("rejected: not run", "P", "#8c564b"),
    TrialState.interrupted: Mark("interrupted", "d", "#bcbd22"),
    TrialState.running: Mark("running", "o", "#7f7f7f", hollow=True),
}


def _mark(trial: Trial) -> Mark:
    if trial.state == TrialState.repeated:
        return REPEATED
    if trial.state == TrialState.pruned:
        return PRUNED
    if trial.score is None:
        return UNSCORED.get(trial.state, UNSCORED[TrialState.failed])
    if trial.confirms is not None:
        return CONFIRMATION
    return FEASIBLE if trial.feasible else INFEASIBLE


def search_progress(view: RunView) -> Figure | None:
    trials = view.trials
    if not trials:
        return None
    scored_params: dict[str, float] = {}
    for trial in trials:
        if trial.score is not None and trial.confirms is None:
            scored_params.setdefault(repr(sorted(trial.params.items())), trial.score)
    placed: dict[Mark, tuple[list[float], list[float]]] = {}
    bottom: dict[Mark, list[float]] = {}
    for trial in trials:
        twin = scored_params.get(repr(sorted(trial.params.items()))) if trial.state == TrialState.repeated else None
        mark = _mark(trial)
        score = trial.score if trial.score is not None else twin
        if score is None:
            bottom.setdefault(mark, []).append(trial.number)
        else:
            xs, ys = placed.setdefault(mark, ([], []))
            xs.append(trial.number)
            ys.append(score)

    figure = drawing()
    axes = figure.add_subplot()
    best_numbers, best_values = _best_so_far(trials, view.run.maximize)
    if best_numbers:
        axes.step(
            best_numbers, best_values, where="post", color="#2ca02c", linewidth=1.5, label="best so far (feasible)"
        )
    defaults = defaults_trial(trials)
    if defaults is not None and scored(defaults):
        measured = Measurements([float(t.score or 0.0) for t in measured_runs(defaults, trials, scored)])
        runs = f"mean of {len(measured.values)} runs" if len(measured.values) > 1 else "one run"
        axes.axhline(measured.mean, color="#555555", linestyle="--", linewidth=1, label=f"engine defaults ({runs})")
    best = next((t for t in trials if t.number == view.best), None)
    if best is not None and best.score is not None:
        mark_picked(axes, [best.number], [best.score], f"best: trial {best.number}")
    for mark, (xs, ys) in placed.items():
        mark.draw(axes, xs, ys, zorder=3)
    # Unscored trials sit on the bottom axis: x in data, y in axes coordinates, whatever the scores' range.
    for mark, numbers in bottom.items():
        mark.draw(axes, numbers, [0.0] * len(numbers), transform=axes.get_xaxis_transform(), clip_on=False, zorder=3)
    # Markers on the bottom axis do not widen the x-axis: the trials' range sets it.
    axes.set_xlim(trials[0].number - 0.5, trials[-1].number + 0.5)
    axes.set_xlabel("trial")
    axes.set_ylabel(f"score: {view.run.objective}")
    if placed:
        axes.margins(y=0.12)  # room above the bottom axis, where the unscored trials sit
    else:
        axes.set_yticks([])
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    direction = "higher" if view.run.maximize else "lower"
    caption = (
        f"Each trial's score ({direction} is better) in the order the search ran them; the green steps are the best "
        "feasible score found so far. Trials without a score (failed, timed out, rejected, still running) sit on "
        "the bottom axis; a repeated configuration is drawn at the score of the trial it reused. The dashed line, when "
        "the run measured them, is the engine's defaults."
    )
    return rendered(KEY, "Search progress", caption, figure)


def _best_so_far(trials: list[Trial], maximize: bool) -> tuple[list[float], list[float]]:
    numbers: list[float] = []
    values: list[float] = []
    best: float | None = None
    for trial in trials:
        if trial.confirms is not None or trial.state != TrialState.succeeded or not trial.feasible:
            continue
        if trial.score is None:
            continue
        if best is None or (trial.score > best if maximize else trial.score < best):
            best = trial.score
            numbers.append(trial.number)
            values.append(best)
    if numbers and trials[-1].number > numbers[-1]:
        numbers.append(trials[-1].number)
        values.append(values[-1])
    return numbers, values
