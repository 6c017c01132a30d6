"""The plots of a tuning run, as PNG figures: for the run's Prefect artifacts and its HTML report.

Each plot is drawn only when it has something to show: a run whose trials all failed has a search progress plot
and nothing else.
"""

from __future__ import annotations

from tuning.report.figure import Figure
from tuning.report.plots._run import GPUCount, RunView
from tuning.report.plots.curves import throughput_latency
from tuning.report.plots.parameters import importance, parameter_effects, parameter_importance
from tuning.report.plots.pareto import pareto
from tuning.report.plots.progress import search_progress
from tuning.store import Store, TuningRun

__all__ = ["GPUCount", "run_figures"]


def run_figures(store: Store, run: TuningRun, gpus: GPUCount | None = None) -> list[Figure]:
    """The run's plots, in reading order. ``gpus``: how many GPUs a configuration occupies (its engine's count),
    for the per-GPU axis of the Pareto plot; without it that axis reads per server."""
    view = RunView(store, run, gpus)
    importances = importance(view)
    figures = [
        search_progress(view),
        pareto(view),
        throughput_latency(view),
        parameter_effects(view, importances),
        parameter_importance(view, importances),
    ]
    return [figure for figure in figures if figure is not None]
