"""Screenshots of the Prefect UI for docs/walkthrough.md: a `tune` deployment's run form, and the artifacts of a
completed tune run (the run page's Artifacts tab, the leaderboard table, the best-configuration card, and each plot).

Run it against a server that has such a run, for example at the end of the walkthrough:

    .venv/bin/python docs/screenshots/take.py --api http://127.0.0.1:4200/api --deployment quickstart

or, for the plots of the replay demo (``servetune tune examples/replay-demo.yaml`` against that server):

    .venv/bin/python docs/screenshots/take.py --api http://127.0.0.1:4200/api --run replay-demo

It needs Chromium (Debian: `apt-get install chromium`) and writes the PNGs next to this file (or to --out).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound

HERE = Path(__file__).resolve().parent
# The UI renders from the API after the page has loaded: Chromium's virtual time lets those requests finish.
_RENDER_BUDGET_MS = 20000
_BROWSER_TIMEOUT_S = 180


class NothingToShow(RuntimeError):
    """The server lacks what a screenshot shows (the deployment, a completed run, its artifacts)."""


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise NothingToShow("no Chromium on PATH: install it (Debian: apt-get install chromium)")


def shoot(url: str, out: Path, width: int, height: int) -> Path:
    """One page as a PNG, rendered by headless Chromium."""
    argv = [
        _browser(),
        "--headless",
        "--no-sandbox",  # Chromium's sandbox refuses to run as root, as in containers and CI
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        f"--virtual-time-budget={_RENDER_BUDGET_MS}",
        f"--screenshot={out}",
        url,
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=_BROWSER_TIMEOUT_S)
    if not out.is_file() or out.stat().st_size == 0:
        raise NothingToShow(f"Chromium wrote no screenshot of {url}")
    return out


def _check_ui_reaches(api: str) -> str:
    """The UI's address; fails when the UI would call another API than ``api`` and so show nothing."""
    ui = api.removesuffix("/").removesuffix("/api")
    settings = httpx.get(f"{ui}/ui-settings", timeout=30).json()
    if settings["api_url"].rstrip("/") != api.rstrip("/"):
        raise NothingToShow(
            f"the UI at {ui} calls the API at {settings['api_url']}, not {api}: start the server with "
            f"PREFECT_UI_API_URL={api}"
        )
    return f"{ui}{settings.get('v2_base_url', '') if settings.get('default_ui') == 'v2' else ''}".rstrip("/")


def _latest_completed_run(client: SyncPrefectClient, deployment_id: Any = None, name: str | None = None) -> Any:
    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])) if deployment_id else None,
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])),
            name=FlowRunFilterName(any_=[name]) if name else None,
        ),
        sort=FlowRunSort.END_TIME_DESC,
        limit=1,
    )
    if not runs:
        what = f"run {name!r}" if name else "the deployment"
        raise NothingToShow(f"{what} has no completed run yet: run it first (docs/walkthrough.md)")
    return runs[0]


def _created(artifact: Any) -> str:
    return str(artifact.created)


def _is_plot(artifact: Any) -> bool:
    return artifact.type == "markdown" and "data:image/png;base64," in str(artifact.data)


def take(api: str, deployment: str | None, out: Path, run_name: str | None = None) -> list[Path]:
    ui = _check_ui_reaches(api)
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with SyncPrefectClient(api) as client:
        found = client.read_deployment_by_name(f"tune/{deployment}") if deployment else None
        run = _latest_completed_run(client, found.id if found else None, run_name)
        of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        # The latest version of each key: runs made before plots were updated in place have one per redraw.
        latest = {a.key or str(a.id): a for a in sorted(client.read_artifacts(artifact_filter=of_run), key=_created)}
        artifacts = list(latest.values())
    by_suffix = {str(a.key).rsplit("-", 1)[-1]: a for a in artifacts if a.key}
    if not {"leaderboard", "best"} <= by_suffix.keys():
        raise NothingToShow(f"run {run.name} has no leaderboard table and best-configuration card")
    # A deployment's shots keep the walkthrough's names; a run named apart gets its own, beside them.
    prefix = "" if found is not None else f"{run.name}-"
    if found is not None:
        shots.append(shoot(f"{ui}/deployments/deployment/{found.id}/run", out / "run-form.png", 1400, 3200))
    shots += [
        shoot(f"{ui}/runs/flow-run/{run.id}?tab=Artifacts", out / f"{prefix}run-artifacts.png", 1400, 1000),
        shoot(f"{ui}/artifacts/artifact/{by_suffix['leaderboard'].id}", out / f"{prefix}leaderboard.png", 1400, 900),
        shoot(f"{ui}/artifacts/artifact/{by_suffix['best'].id}", out / f"{prefix}best-card.png", 1400, 1300),
    ]
    for plot in (a for a in artifacts if _is_plot(a)):
        slug = str(plot.key).removeprefix(f"{run.name}-")
        shots.append(shoot(f"{ui}/artifacts/artifact/{plot.id}", out / f"plot-{slug}.png", 1400, 1100))
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:4200/api", help="the Prefect server's API URL")
    parser.add_argument("--deployment", help="the `tune` deployment whose run form and latest run to show")
    parser.add_argument("--run", help="the name of the tune run to show (default: the deployment's latest)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the PNGs")
    args = parser.parse_args(argv)
    try:
        if not (args.deployment or args.run):
            parser.error("give --deployment, --run, or both")
        written = take(args.api, args.deployment, args.out, args.run)
    except ObjectNotFound:
        print(
            f"take.py: no deployment tune/{args.deployment} on {args.api}: run `prefect deploy --all`", file=sys.stderr
        )
        return 1
    except (NothingToShow, httpx.HTTPError, subprocess.SubprocessError) as exc:
        print(f"take.py: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
