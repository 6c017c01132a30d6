"""`servetune report RUN`: one self-contained HTML file to share, which opens offline.

The stored run is recorded through the real scoring, ranking and store (SQLite and PostgreSQL), with trials in
every state a leaderboard explains; the page is parsed with html.parser, as a browser reads its tags, and checked
for what a reader needs (each trial with its reason, the launch command, the confirmation spread, the spec, the
versions) and for anything it would fetch from elsewhere. The tune flow's own report is checked on a real run
against the stand-in engine.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client

from flows import tune
from tests.support.factories import make_spec, round_metrics
from tests.support.standin_runs import standin_spec
from tuning.cli import main
from tuning.errors import ExitCode
from tuning.evaluation.outcome import Phase, TrialOutcome, TrialState
from tuning.evaluation.pareto import Goal
from tuning.evaluation.ranking import conclude
from tuning.evaluation.scoring import score_trial
from tuning.report.figure import Figure
from tuning.report.html_report import render_report
from tuning.spec import TuningSpec
from tuning.store import Store, TuningRun
from tuning.store import database_url as default_database_url

HOSTILE_ERROR = '<script>alert("pwned")</script> engine exited & took <b>the GPU</b> with it'
REJECTED = "rejected: tensor-parallel-size 4 needs 4 GPUs; this machine has 1"
PRUNED = "pruned at concurrency 4: below the median of earlier trials"
COMMAND = ["python", "-m", "vllm.entrypoints.openai.api_server", "--max-num-seqs", "4", "--served-model-name", "a b"]


class _Page(HTMLParser):
    """The tags of a page with their attributes, and per section its text, table rows and <pre> blocks."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.pres: dict[str, list[str]] = {}
        self.text: dict[str, str] = {}
        self._section = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._pre: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "section":
            self._section = dict(attrs).get("id") or ""
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "pre":
            self._pre = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self._section, []).append(self._row)
            self._row = None
        elif tag == "pre" and self._pre is not None:
            self.pres.setdefault(self._section, []).append("".join(self._pre))
            self._pre = None
        elif tag == "section":
            self._section = ""

    def handle_data(self, data: str) -> None:
        self.text[self._section] = self.text.get(self._section, "") + data
        for part in (self._cell, self._pre):
            if part is not None:
                part.append(data)

    def trial_rows(self, section: str) -> dict[str, list[str]]:
        """A section's table rows by trial number (the best's is starred: "1 ★")."""
        return {row[0].split()[0]: row for row in self.rows.get(section, []) if row and row[0][:1].isdigit()}


def _external(page: _Page) -> list[str]:
    """Every reference the page would fetch from elsewhere, or that loads a script or style from a URL."""
    found = []
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "data", "action", "poster"):
            value = (attrs.get(name) or "").strip().lower()
            if value.startswith(("http://", "https://", "//", "ftp:")):
                found.append(f"<{tag} {name}={value}>")
        if tag == "script" and "src" in attrs:
            found.append(f"<script src={attrs['src']}>")
        if tag == "link":
            found.append(f"<link {attrs}>")
    return found


def _record(
    store: Store,
    run_id: str,
    spec: TuningSpec,
    number: int,
    throughput: float,
    ttft: float = 0.1,
    confirms: int | None = None,
) -> None:
    """A succeeded trial of one round; ``confirms`` makes it a confirmation of that trial."""
    params = {"max-num-seqs": 2 * (number + 1) if confirms is None else 2 * (confirms + 1)}
    store.start_trial(run_id, number, params, confirms=confirms)
    rounds = [
        round_metrics(concurrency=4, throughput=throughput, ttft_p90=ttft, output_throughput_per_user=throughput / 4)
    ]
    result = score_trial(spec, rounds, 1)
    outcome = TrialOutcome(
        number=number, params=params, state=TrialState.succeeded, score=result, command=COMMAND if number == 1 else []
    )
    store.finish_trial(run_id, outcome, rounds)


def _stored_run(database_url: str) -> TuningRun:
    """Trials in every state: the best (1) confirmed twice, a feasible one, one breaking a hard SLO, a failed one
    whose error is markup, a rejected and a pruned one."""
    spec = make_spec(
        "html-report",
        description="Nightly <tuning> of the chat model & friends",
        search_space={"max-num-seqs": [2, 4, 6, 8, 10, 12]},
        slos=[{"metric": "ttft", "statistic": "p90", "max": 0.5, "hard": True}],
        confirmation={"top": 1, "repeats": 2},
    )
    store = Store(database_url)
    run = store.start_run(spec)
    _record(store, run.id, spec, 0, 100.0)
    _record(store, run.id, spec, 1, 250.0)
    _record(store, run.id, spec, 2, 400.0, ttft=0.9)  # fastest, but breaks the hard ttft SLO
    store.start_trial(run.id, 3, {"max-num-seqs": 8})
    failed = TrialOutcome(
        number=3, params={"max-num-seqs": 8}, state=TrialState.failed, phase=Phase.ready, error=HOSTILE_ERROR
    )
    store.finish_trial(run.id, failed, [])
    store.record_not_run(run.id, 4, {"max-num-seqs": 10}, TrialState.rejected, REJECTED)
    store.start_trial(run.id, 5, {"max-num-seqs": 12})
    pruned = TrialOutcome(number=5, params={"max-num-seqs": 12}, state=TrialState.pruned, stopped_early=PRUNED)
    store.finish_trial(run.id, pruned, [round_metrics(concurrency=1, throughput=20.0)])
    _record(store, run.id, spec, 6, 240.0, confirms=1)
    _record(store, run.id, spec, 7, 260.0, confirms=1)
    conclusion = conclude(store.trials(run.id), Goal.of_spec(spec))
    assert conclusion.best is not None and conclusion.best.number == 1
    store.finish_run(run.id, "completed", conclusion.message, conclusion.best.number)
    return store.find_run(run.id)


def _png(width: int, height: int) -> bytes:
    """A real (grey) PNG, built by hand so that the renderer's test needs no plotting."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _check_page(page: _Page, run: TuningRun) -> None:
    """What every report of ``_stored_run`` shows, however it was written."""
    assert _external(page) == []
    assert [t for t, _ in page.tags].count("script") == 1  # the inline copy button's, with no src
    board = page.trial_rows("leaderboard")
    assert sorted(board) == [str(n) for n in range(8)]
    headers = page.rows["leaderboard"][0]
    state, note = headers.index("state"), headers.index("note")
    assert board["1"][0] == "1 ★"
    assert (board["2"][state], board["2"][note]) == (
        "infeasible",
        "infeasible: ttft p90 <= 0.5s at D(100,100) x4: 0.9 > 0.5",
    )
    # The engine's markup is shown as text, never run or drawn.
    assert (board["3"][state], board["3"][note]) == ("failed", f"ready: {HOSTILE_ERROR}")
    assert (board["4"][state], board["4"][note]) == ("rejected", REJECTED)
    assert (board["5"][state], board["5"][note]) == ("pruned", PRUNED)
    assert board["6"][note].startswith("confirms trial 1") and board["7"][note].startswith("confirms trial 1")
    assert page.pres["best"] == [shlex.join(COMMAND)]
    spread = page.trial_rows("confirmations")
    assert spread["1"][2] == "1, 6, 7"
    assert spread["1"][3].startswith("240 / 250 / 260; mean 250")
    assert yaml.safe_load(page.pres["spec"][0]) == run.spec
    environment = {row[0]: row[1] for row in page.rows["environment"]}
    assert environment["servetune (this report)"] == importlib.metadata.version("servetune")
    assert environment["engine"] == "vllm"
    assert environment["Python (this report)"].startswith("3.11")
    assert "Nightly <tuning> of the chat model & friends" in page.text[""]
    for title in ("Best configuration", "Confirmation spread", "Leaderboard", "Plots", "Spec", "Environment"):
        assert title in page.text[""]  # the table of contents


def test_the_page_embeds_each_figure_and_escapes_what_engines_and_users_wrote(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'servetune.db'}"
    run = _stored_run(database_url)
    figures = [
        Figure(f"plot-{i}", f"Plot {i} <of the run>", f"How to read plot {i} & why", _png(4 + i, 3)) for i in range(5)
    ]

    html = render_report(Store(database_url), run, figures)

    page = _Page(html)
    _check_page(page, run)
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert images == [f.data_uri() for f in figures]
    assert "Plot 2 <of the run>" in page.text["plots"] and "How to read plot 2 & why" in page.text["plots"]
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html


def test_report_writes_one_self_contained_file_with_the_runs_plots(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    run = _stored_run(database_url)
    target = tmp_path / "shared" / "report.html"

    assert main(["report", run.id[:8], "-o", str(target)]) == ExitCode.ok

    assert capsys.readouterr().out.strip() == str(target)
    page = _Page(target.read_text(encoding="utf-8"))
    _check_page(page, run)
    plots = [attrs["src"] or "" for tag, attrs in page.tags if tag == "img"]
    assert len(plots) >= 4
    assert all(src.startswith("data:image/png;base64,") for src in plots)


def test_report_by_name_goes_to_the_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SERVETUNE_HOME", str(home))
    monkeypatch.delenv("SERVETUNE_DATABASE_URL", raising=False)
    run = _stored_run(default_database_url())  # the default database, in SERVETUNE_HOME

    assert main(["report", "html-report"]) == ExitCode.ok

    written = home / "runs" / run.id / "report.html"
    assert capsys.readouterr().out.strip() == str(written)
    assert page_title(written.read_text(encoding="utf-8")) == "html-report: servetune report"


def page_title(html: str) -> str:
    return html.split("<title>", 1)[1].split("</title>", 1)[0]


def test_report_of_an_unknown_run_or_to_an_unwritable_file_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'servetune.db'}"
    monkeypatch.setenv("SERVETUNE_DATABASE_URL", database_url)
    run = _stored_run(database_url)

    assert main(["report", "no-such-run"]) == ExitCode.not_found  # as `show` exits for it
    assert "no run with id or name 'no-such-run'" in capsys.readouterr().err

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["report", run.name, "-o", str(blocker / "report.html")]) == ExitCode.bad_input
    err = capsys.readouterr().err
    assert f"-o {blocker / 'report.html'}: cannot write the report" in err
    assert "Traceback" not in err


def test_a_tune_run_writes_its_report_and_links_it_from_an_artifact(
    prefect_server: None, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SERVETUNE_HOME", str(home))
    spec = standin_spec("html-flow", tiny_model, tmp_path, seqs=[2, 4], faults={4: "crash"})

    summary = tune(spec)

    written = home / "runs" / summary.run_id / "report.html"
    page = _Page(written.read_text(encoding="utf-8"))
    assert _external(page) == []
    assert sorted(page.trial_rows("leaderboard")) == ["0", "1"]
    assert page.trial_rows("leaderboard")["1"][1] == "failed"
    # Where it ran, as the run recorded it when it started: the engine environment's version and this host.
    environment = {row[0]: row[1] for row in page.rows["environment"]}
    assert environment["engine version"].startswith("not checked")  # the stand-in engine has no vLLM parser
    assert environment["CPU (tune flow's host)"].startswith(f"{os.cpu_count()} x ")
    assert environment["servetune (tune flow's host)"] == importlib.metadata.version("servetune")
    assert [
        src for tag, attrs in page.tags if tag == "img" and (src := attrs["src"] or "").startswith("data:image/png")
    ]
    with get_client(sync_client=True) as client:
        artifacts = [a for a in client.read_artifacts(limit=200) if a.key == "html-flow-report"]
    assert [a.type for a in artifacts] == ["markdown"]  # Prefect stores a link as a markdown link
    assert f"(file://{written})" in str(artifacts[0].data)
