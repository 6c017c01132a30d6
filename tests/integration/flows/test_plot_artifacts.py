"""The tune flow attaches the run's plots to its Prefect flow run, one markdown artifact per plot, each holding a
PNG the UI renders; drawn again as trials end. A real run of the stand-in engine (tests/support/openai_engine.py)
with real genai-bench, against the session's Prefect server."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from uuid import UUID

import pytest
import yaml
from matplotlib.image import imread
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact

from tests.support.standin_runs import standin_spec
from tuning.cli import main
from tuning.store import Store

IMAGE = re.compile(r"!\[([^\]]+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def _artifacts(flow_run_id: str) -> list[Artifact]:
    only_this_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]))
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=only_this_run, limit=200)


def test_the_tune_flow_attaches_each_plot_as_an_image_the_ui_renders(
    prefect_server: None, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVETUNE_HOME", str(tmp_path / "home"))
    spec = standin_spec(
        "plot-artifacts",
        tiny_model,
        tmp_path,
        seqs=[2, 4, 8],
        faults={8: "crash"},
        slos=[{"metric": "ttft", "statistic": "p90", "max": 30.0}],
    )
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json")))

    assert main(["tune", str(spec_file)]) == 0

    run = Store().find_run("plot-artifacts")
    assert run.prefect_flow_run_id is not None
    artifacts = _artifacts(run.prefect_flow_run_id)
    plots = [a for a in artifacts if a.type == "markdown" and IMAGE.search(str(a.data))]
    keys = {a.key for a in plots}
    # One tuned flag: no importance to compare, so no importance plot.
    assert keys == {
        "plot-artifacts-search-progress",
        "plot-artifacts-pareto",
        "plot-artifacts-throughput-latency",
        "plot-artifacts-parameter-effects",
    }
    for artifact in plots:
        match = IMAGE.search(str(artifact.data))
        assert match is not None
        assert artifact.description == match.group(1)  # the plot's title
        png = base64.b64decode(match.group(2), validate=True)
        height, width = imread(io.BytesIO(png), format="png").shape[:2]
        assert width >= 600 and height >= 200, (artifact.key, width, height)
    # One card per plot in the run's Artifacts tab: redrawn as trials ended, each plot is updated in place.
    assert len(plots) == len(keys), sorted(str(a.key) for a in plots)
    [progress] = [a for a in plots if a.key == "plot-artifacts-search-progress"]
    assert progress.created is not None and progress.updated is not None
    assert (progress.updated - progress.created).total_seconds() > 1, "drawn once only, at the end"
