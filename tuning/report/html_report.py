"""A run as one self-contained HTML file to share: its plots, leaderboard, best configuration, confirmations, spec
and environment, readable offline.

Nothing on the page points outside it: the plots are ``data:`` URIs, the style and the copy button are inline.
The cards are the same blocks the Prefect artifacts and ``servetune show`` print (``leaderboard``), rendered by
``html``; the page around them is the package's template ``templates/report.html.j2``, with autoescape on.
"""

from __future__ import annotations

import platform
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import yaml
from markupsafe import Markup

from tuning.report.confirmations import confirmation_blocks
from tuning.report.figure import Figure
from tuning.report.html import html_blocks, html_figures, html_rows, html_table
from tuning.report.leaderboard import Table, best_card_blocks, leaderboard_rows, pareto_rows
from tuning.runtime.environment import servetune_version
from tuning.runtime.settings import data_dir
from tuning.store import Store, Trial, TuningRun

if TYPE_CHECKING:
    from tuning.report.plots import GPUCount

REPORT_NAME = "report.html"

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Section:
    """A part of the page, with its entry in the table of contents."""

    id: str
    title: str
    body: Markup


def default_report_path(run: TuningRun) -> Path:
    """``report.html`` in the run's folder, beside its trials' folders (``settings.trial_dir``)."""
    return data_dir() / "runs" / run.id / REPORT_NAME


def _best(run: TuningRun, trials: list[Trial]) -> Trial | None:
    return None if run.best_trial is None else next((t for t in trials if t.number == run.best_trial), None)


def _section(spec: dict[str, Any], name: str) -> dict[str, Any]:
    value = spec.get(name)
    return value if isinstance(value, dict) else {}


def _gpu_counts(trials: list[Trial], gpus: GPUCount | None) -> str:
    if gpus is None:
        return ""
    counts = sorted({max(1, gpus(t.params)) for t in trials})
    return ", ".join(map(str, counts)) + " (as the engine counts its parallelism; a run without GPUs counts 1)"


def _recorded(run: TuningRun) -> list[tuple[str, str]]:
    """The environment the run recorded when it started; the host is the tune flow's (a pool's trials ran on the
    hosts listed apart)."""
    if not run.environment:
        return [("engine version", "not recorded (the run was stored before servetune recorded it)")]
    return [
        (label if label == "engine version" else f"{label} (tune flow's host)", value)
        for label, value in run.environment.items()
    ]


def environment_table(run: TuningRun, trials: list[Trial], written: datetime, gpus: GPUCount | None = None) -> Table:
    """What the store says about where the run ran, and what wrote this page. ``gpus``: how many GPUs a
    configuration occupies, as its engine counts them."""
    engine, deployer = _section(run.spec, "engine"), _section(run.spec, "deployer")
    hardware, strategy = _section(run.spec, "hardware"), _section(run.spec, "strategy")
    hosts = sorted({t.owner.rpartition("/")[0] for t in trials if t.owner})
    rows: list[tuple[str, str]] = [
        ("engine", run.engine),
        *_recorded(run),
        ("engine interpreter", str(engine.get("venv") or engine.get("python") or "")),
        ("engine image", str(deployer.get("image") or "")),
        ("deployer", str(deployer.get("kind") or "local")),
        ("model", run.model),
        (
            "work pool",
            str(hardware.get("pool") or "none: the trials ran in the tune flow's own process"),
        ),
        ("GPUs per node", str(hardware.get("gpus_per_node") or "not set: the GPUs the machine has")),
        ("GPUs per configuration", _gpu_counts(trials, gpus)),
        ("trials at once", str(strategy.get("parallelism") or 1)),
        ("hosts that ran trials", ", ".join(hosts)),
        ("run started (UTC)", f"{run.started_at:%Y-%m-%d %H:%M:%S}" if run.started_at else ""),
        ("run finished (UTC)", f"{run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else ""),
        ("Prefect flow run", run.prefect_flow_run_id or ""),
        ("servetune (this report)", servetune_version()),
        ("Python (this report)", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("report written", f"{written:%Y-%m-%d %H:%M:%S} UTC on {socket.gethostname()}"),
    ]
    return Table(("", "value"), tuple((label, value) for label, value in rows if value))


def spec_text(run: TuningRun) -> str:
    """The run's stored spec as YAML, in its fields' order (the store keeps it secret-free)."""
    return yaml.safe_dump(run.spec, sort_keys=False, allow_unicode=True, default_flow_style=False)


def report_sections(
    store: Store, run: TuningRun, figures: Sequence[Figure], written: datetime, gpus: GPUCount | None = None
) -> list[Section]:
    trials = store.trials(run.id)
    sections = [Section("best", "Best configuration", html_blocks(best_card_blocks(store, run, _best(run, trials))))]
    if confirmed := confirmation_blocks(store, run):
        sections.append(Section("confirmations", "Confirmation spread", html_blocks(confirmed)))
    leaderboard = html_rows(leaderboard_rows(store, run))
    if front := pareto_rows(store, run):
        leaderboard += Markup("<h3>Pareto front (★ picked)</h3>") + html_rows(front)
    sections += [
        Section("leaderboard", "Leaderboard", leaderboard),
        Section("plots", "Plots", html_figures(figures)),
        Section("spec", "Spec", Markup('<pre class="spec">{}</pre>').format(spec_text(run))),
        Section("environment", "Environment", html_table(environment_table(run, trials, written, gpus))),
    ]
    return sections


def render_report(store: Store, run: TuningRun, figures: Sequence[Figure], gpus: GPUCount | None = None) -> str:
    """The page, as one string of HTML. ``gpus``: how many GPUs a configuration occupies (``plots.GPUCount``)."""
    written = datetime.now(UTC)
    trials = store.trials(run.id)
    return _TEMPLATES.get_template("report.html.j2").render(
        run=run,
        description=str(run.spec.get("description") or ""),
        direction="higher is better" if run.maximize else "lower is better",
        trials=len(trials),
        confirmations=sum(t.confirms is not None for t in trials),
        sections=report_sections(store, run, figures, written, gpus),
        version=servetune_version(),
        written=f"{written:%Y-%m-%d %H:%M} UTC",
    )


def write_report(
    store: Store,
    run: TuningRun,
    path: Path | None = None,
    figures: Sequence[Figure] | None = None,
    gpus: GPUCount | None = None,
) -> Path:
    """Write the run's report to ``path`` (default: ``report.html`` in the run's folder); returns the path.

    ``figures`` default to the run's plots (``plots.run_figures``, with ``gpus`` for its per-GPU axis). Raises
    OSError when the file cannot be written.
    """
    if figures is None:
        from tuning.report.plots import run_figures  # matplotlib: imported only when a page is drawn

        figures = run_figures(store, run, gpus)
    page = render_report(store, run, figures, gpus)
    target = path if path is not None else default_report_path(run)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
