"""Drawing a plot into PNG bytes: matplotlib's object API on the Agg canvas, never pyplot.

pyplot keeps figures in process-wide state and picks a GUI backend where it finds one; a flow draws from its own
thread on a server without a display, so each plot is a standalone figure on its own Agg canvas.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as Drawing

from tuning.report.figure import Figure

# 8 x 4.5 in at 96 dpi: 768 x 432 px, tens of KB as a PNG; the Prefect database keeps each version of it.
WIDTH, HEIGHT, DPI = 8.0, 4.5, 96


def drawing(width: float = WIDTH, height: float = HEIGHT) -> Drawing:
    figure = Drawing(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def rendered(key: str, title: str, caption: str, figure: Drawing) -> Figure:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return Figure(key=key, title=title, caption=caption, png=buffer.getvalue())


@dataclass(frozen=True)
class Mark:
    """How one kind of trial or point is drawn, and what the legend calls it."""

    label: str
    marker: str
    color: str
    hollow: bool = False

    def draw(self, axes: Axes, xs: list[float], ys: list[float], size: float = 42, **extra: Any) -> None:
        if not xs:
            return
        face = "none" if self.hollow else self.color
        axes.scatter(
            xs, ys, s=size, marker=self.marker, facecolors=face, edgecolors=self.color, label=self.label, **extra
        )


def mark_picked(axes: Axes, xs: list[float], ys: list[float], label: str) -> None:
    """The best or picked configuration: a large gold star behind its own marker."""
    if xs:
        axes.scatter(xs, ys, s=260, marker="*", color="gold", edgecolors="black", linewidths=0.8, zorder=1, label=label)
