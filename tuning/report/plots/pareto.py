"""The Pareto front: the run's own two objectives when it has several, else tokens/s per user against per GPU."""

from __future__ import annotations

from matplotlib.axes import Axes

from tuning.evaluation.pareto import FrontPoint, front_indices, pareto_front
from tuning.evaluation.slo import breaks_hard_slo
from tuning.report.figure import Figure
from tuning.report.plots._canvas import Mark, drawing, mark_picked, rendered
from tuning.report.plots._run import RunView
from tuning.spec import ObjectiveMetric, ObjectiveSpec

KEY = "pareto"
TITLE = "Pareto front"

OFF_FRONT = Mark("measured", "o", "#aec7e8")
ON_FRONT = Mark("on the front", "o", "#1f77b4")
INFEASIBLE = Mark("infeasible: a hard SLO broken", "X", "#ff7f0e")
FRONT_LINE = "#1f77b4"
PER_USER = ObjectiveMetric.output_throughput_per_user
PER_GPU = ObjectiveMetric.output_throughput_per_gpu


def pareto(view: RunView) -> Figure | None:
    return _objectives_front(view) if view.goal.multi else _user_gpu_front(view)


def _staircase(axes: Axes, points: list[tuple[float, float]], maximize_x: bool, maximize_y: bool) -> None:
    """The front as a line from its best-in-x end to its best-in-y end."""
    if len(points) < 2:
        return
    ordered = sorted(points, reverse=maximize_x)
    xs, ys = zip(*ordered, strict=True)
    axes.step(xs, ys, where="post" if maximize_x == maximize_y else "pre", color=FRONT_LINE, linewidth=1, alpha=0.7)


def _objectives_front(view: RunView) -> Figure | None:
    goal = view.goal
    # y is the first objective, x the second: "per user against per GPU" for the user-vs-gpu preset.
    y_at, x_at = 0, 1
    names, labels = goal.names, [o.label for o in goal.objectives]
    front = pareto_front(view.trials, goal)
    measured = [
        (t, t.objective_scores) for t in view.measured() if t.objective_scores and len(t.objective_scores) == len(names)
    ]
    if not measured:
        return None
    on_front = set(front.numbers)
    figure = drawing()
    axes = figure.add_subplot()
    infeasible = [scores for t, scores in measured if not t.feasible]
    INFEASIBLE.draw(axes, [s[x_at] for s in infeasible], [s[y_at] for s in infeasible])
    feasible = [scores for t, scores in measured if t.feasible and t.number not in on_front]
    OFF_FRONT.draw(axes, [s[x_at] for s in feasible], [s[y_at] for s in feasible])
    # Front points carry the mean over the configuration's confirmations: where the pick rule reads them.
    points = [(p.values[x_at], p.values[y_at]) for p in front.points]
    _staircase(axes, points, goal.maximize[x_at], goal.maximize[y_at])
    ON_FRONT.draw(axes, [x for x, _ in points], [y for _, y in points], zorder=3)
    for point in front.points:
        axes.annotate(
            f"{point.trial.number}",
            (point.values[x_at], point.values[y_at]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    picked: FrontPoint | None = front.picked
    if picked is not None:
        mark_picked(axes, [picked.values[x_at]], [picked.values[y_at]], f"picked: trial {picked.trial.number}")
    _limits(view, axes, names[x_at], names[y_at])
    axes.set_xlabel(labels[x_at])
    axes.set_ylabel(labels[y_at])
    axes.grid(alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    caption = (
        f"Each measured configuration in two of its objectives; the dark points, numbered by trial, are the Pareto "
        f"front (no other feasible configuration is better in every objective), and the star is the one the rule "
        f"{goal.rule} picked. Dashed lines are the rule's limits."
    )
    if len(names) > 2:
        caption += f" The front is over all {len(names)} objectives, so a point off it here may be on it in another."
    return rendered(KEY, TITLE, caption, figure)


def _limits(view: RunView, axes: Axes, x_name: str, y_name: str) -> None:
    goal = view.goal
    for name, limit in goal.pick.limits.items():
        sign = ">=" if goal.maximize[goal.names.index(name)] else "<="
        label = f"limit: {name} {sign} {limit:g}"
        if name == x_name:
            axes.axvline(limit, color="#d62728", linestyle="--", linewidth=1, label=label)
        elif name == y_name:
            axes.axhline(limit, color="#d62728", linestyle="--", linewidth=1, label=label)


def _user_gpu_front(view: RunView) -> Figure | None:
    """One point per round (configuration x load level): load, more than the flags, trades one for the other."""
    feasible: list[tuple[float, float]] = []
    broken: list[tuple[float, float]] = []
    best: list[tuple[float, float]] = []
    for trial in view.measured():
        gpus = view.gpu_count(trial)
        for round_ in view.rounds(trial):
            if round_.output_throughput_per_user is None:
                continue  # stored before servetune 0.2
            point = (round_.output_throughput / gpus, round_.output_throughput_per_user)
            (broken if breaks_hard_slo(round_, view.slos) else feasible).append(point)
            if trial.number == view.best:
                best.append(point)
    if not feasible and not broken:
        return None
    on_front = {feasible[i] for i in front_indices(feasible, [True, True])}
    figure = drawing()
    axes = figure.add_subplot()
    INFEASIBLE.draw(axes, [x for x, _ in broken], [y for _, y in broken])
    off = [p for p in feasible if p not in on_front]
    OFF_FRONT.draw(axes, [x for x, _ in off], [y for _, y in off])
    _staircase(axes, sorted(on_front), True, True)
    ON_FRONT.draw(axes, [x for x, _ in on_front], [y for _, y in on_front], zorder=3)
    if best:
        best.sort()
        axes.plot([x for x, _ in best], [y for _, y in best], color="goldenrod", linewidth=1, zorder=2)
        mark_picked(axes, [x for x, _ in best], [y for _, y in best], f"best: trial {view.best}, each load level")
    if view.gpus is not None:
        axes.set_xlabel(ObjectiveSpec(metric=PER_GPU).label)
    else:  # GPUs per configuration unknown: the server's throughput, said so rather than mislabelled per GPU
        axes.set_xlabel("output_throughput per server (tok/s; GPUs per trial not known)")
    axes.set_ylabel(ObjectiveSpec(metric=PER_USER).label)
    axes.grid(alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    caption = (
        "Each point is one benchmark round (a configuration at one load level): how fast each request streams "
        f"against what the {'GPU' if view.gpus is not None else 'server'} yields; the dark points form the front "
        "no other round beats on both. Crosses broke a hard SLO, so they could not count; the stars are the best "
        "configuration's rounds."
    )
    return rendered(KEY, TITLE, caption, figure)
