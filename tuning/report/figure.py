"""A rendered plot, as the Prefect artifacts and the HTML report carry it."""

from __future__ import annotations

import base64
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One plot of a run: a PNG and the words that say how to read it.

    PNG because the Prefect UI renders a markdown image only from a ``data:image/png`` URI (an inline SVG is shown
    as its text), and the same bytes then serve the self-contained HTML report.
    """

    key: str
    """A short slug, unique within a run: ``search-progress``, ``pareto``, ``throughput-latency``, ..."""
    title: str
    caption: str
    """One or two sentences: what is drawn and how to read it."""
    png: bytes

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def markdown(self) -> str:
        """The plot as a Prefect markdown artifact renders it."""
        return f"### {self.title}\n\n![{self.title}]({self.data_uri()})\n\n{self.caption}\n"
