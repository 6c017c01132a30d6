"""The run's plots as Prefect markdown artifacts, drawn again as its trials end.

A markdown image from a ``data:image/png`` URI is what both Prefect UIs render (an inline SVG shows as text, and an
image artifact prints its whole URL), so each plot is one markdown artifact keyed by the run's name and the plot.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import cast
from uuid import UUID

from prefect import get_client, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.actions import ArtifactUpdate

from flows._run_lifecycle import RunLifecycle
from tuning.report.figure import Figure


def artifact_key(run_name: str, plot: str) -> str:
    """Prefect's artifact keys take lowercase letters, digits and dashes only."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", f"{run_name}-{plot}".lower())).strip("-")


# Drawing every plot takes about a second: after each trial that is nothing beside a real trial (minutes), but a
# replayed trial takes about one second itself, and the demo must stay under a minute.
_REDRAW_SECONDS = 10.0


class PlotArtifacts:
    """Publishes a run's plots as its trials end, at most every ``every`` seconds until the final call.

    Each plot is one artifact, updated in place: a new version per redraw would fill the run's Artifacts tab with
    copies of the same plot. A plot unchanged since it was last published is not sent again."""

    def __init__(self, every: float = _REDRAW_SECONDS) -> None:
        self.every = every
        self._published: dict[str, tuple[UUID, str]] = {}
        # The first redraw waits ``every`` too: a run shorter than that is drawn once, at its end.
        self._drawn_at = time.monotonic()

    def publish(self, run: RunLifecycle, final: bool = False) -> list[Figure] | None:
        """Draw and publish every plot the run has so far; returns them, or None when it was too soon to draw again
        or they could not be drawn. A plot that cannot be drawn or stored is logged and left out: plots never fail a
        run."""
        now = time.monotonic()
        if not final and now - self._drawn_at < self.every:
            return None
        self._drawn_at = now
        logger = get_run_logger()
        store = run.store
        # matplotlib and scikit-learn (fANOVA) take seconds to import: only the process that draws pays for them,
        # not every trial process and pool worker that imports the flows.
        from tuning.report.plots import run_figures

        try:
            figures = run_figures(store, store.find_run(run.id), gpus=run.deployer.engine.gpu_count)
        except Exception as exc:
            logger.warning("the plots of run %s could not be drawn: %s: %s", run.id, type(exc).__name__, exc)
            return None
        for figure in figures:
            try:
                self._send(run, figure)
            except Exception as exc:
                logger.warning(
                    "plot %s of run %s was not published: %s: %s", figure.key, run.id, type(exc).__name__, exc
                )
        return figures

    def _send(self, run: RunLifecycle, figure: Figure) -> None:
        text = figure.markdown()
        digest = hashlib.sha256(text.encode()).hexdigest()
        published = self._published.get(figure.key)
        if published is None:
            key = artifact_key(run.spec.name, figure.key)
            # Called from a flow (sync), Prefect's dispatcher returns the id, not a coroutine.
            created = cast(UUID, create_markdown_artifact(text, key=key, description=figure.title))
            self._published[figure.key] = (created, digest)
        elif published[1] != digest:
            with get_client(sync_client=True) as client:
                client.update_artifact(published[0], ArtifactUpdate(data=text))
            self._published[figure.key] = (published[0], digest)
