"""Throughput against latency: how the leading configurations behave as the load rises."""

from __future__ import annotations

from tuning.evaluation.ranking import leaders, ranked_candidates
from tuning.evaluation.slo import slo_value
from tuning.report.figure import Figure
from tuning.report.plots._canvas import drawing, rendered
from tuning.report.plots._run import RunView
from tuning.spec import SLOMetric, SLOSpec, Statistic
from tuning.store import Trial

KEY = "throughput-latency"
TOP = 5
LINESTYLES = ("-", "--", ":", "-.")


def _latency(view: RunView) -> SLOSpec:
    """The latency the SLOs check first; mean TTFT, with no limit drawn, when they check none."""
    if view.latency_slos:
        return view.latency_slos[0]
    return SLOSpec(metric=SLOMetric.ttft, statistic=Statistic.mean, max=0.0)


def _leading(view: RunView) -> list[Trial]:
    """The best configuration first, then the rule's next choices, then the best-scoring others."""
    numbers = [t.number for t in leaders(view.trials, view.goal)]
    numbers += [c.trial.number for c in ranked_candidates(view.trials, view.run.maximize)]
    ordered = sorted(dict.fromkeys(numbers), key=lambda number: number != view.best)  # stable: best first
    trials = {t.number: t for t in view.trials}
    return [trials[n] for n in ordered if view.rounds(trials[n])][:TOP]


def throughput_latency(view: RunView) -> Figure | None:
    trials = _leading(view)
    if not trials:
        return None
    latency = _latency(view)
    name = f"{latency.metric.value} {latency.statistic.value}"
    figure = drawing()
    axes = figure.add_subplot()
    scenarios = sorted({r.scenario for t in trials for r in view.rounds(t)})
    for index, trial in enumerate(trials):
        color = f"C{index}"
        for scenario in scenarios:
            rounds = sorted((r for r in view.rounds(trial) if r.scenario == scenario), key=lambda r: r.concurrency)
            if not rounds:
                continue
            xs = [r.output_throughput for r in rounds]
            ys = [slo_value(r, latency) for r in rounds]
            label = f"trial {trial.number}" + (" (best)" if trial.number == view.best else "")
            if len(scenarios) > 1:
                label += f", {scenario}"
            style = LINESTYLES[scenarios.index(scenario) % len(LINESTYLES)]
            axes.plot(xs, ys, style, marker="o", markersize=4, color=color, label=label)
            for round_, x, y in zip(rounds, xs, ys, strict=True):
                axes.annotate(
                    str(round_.concurrency), (x, y), fontsize=7, color=color, xytext=(3, 3), textcoords="offset points"
                )
    for slo in view.latency_slos:
        if slo.metric is latency.metric and slo.statistic is latency.statistic:
            axes.axhline(slo.max, color="#d62728", linestyle="--", linewidth=1)
            axes.annotate(
                f"SLO {slo.label}" + ("" if slo.hard else " (soft)"),
                (0.0, slo.max),
                xycoords=("axes fraction", "data"),
                xytext=(4, 3),
                textcoords="offset points",
                fontsize=8,
                color="#d62728",
            )
    axes.set_xlabel("output throughput (tok/s)")
    axes.set_ylabel(f"{name} (s)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    caption = (
        f"The {len(trials)} leading configuration(s), each a line over the load levels it was measured at "
        f"(the number at each point is the concurrency): further right serves more tokens, lower answers sooner. "
        + (
            "The dashed line is the SLO: points above it break it."
            if view.latency_slos
            else "The run has no latency SLO; mean TTFT is drawn."
        )
    )
    return rendered(KEY, "Throughput and latency", caption, figure)
