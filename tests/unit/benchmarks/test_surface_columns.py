"""Surfaces and the per-request metric columns (goodput, slo_attainment, output_throughput_per_user): surfaces
recorded before them still read, and surfaces written with them read back the same."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from benchmarks.surfaces.surface import Measurement, read_surface, write_surface
from tests.support.factories import round_metrics
from tests.support.paths import TEST_DATA
from tuning.evaluation.outcome import TrialState

OLD_SURFACE = TEST_DATA / "surfaces" / "tiny-llama-1x4.csv"
PER_REQUEST = ("goodput", "slo_attainment", "output_throughput_per_user")


def test_a_surface_recorded_before_the_per_request_metrics_still_reads() -> None:
    with OLD_SURFACE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert not set(PER_REQUEST) & set(rows[0]), "the recorded surface predates the per-request columns"

    surface = read_surface(OLD_SURFACE)

    rounds = [r for m in surface.measurements.values() for r in m.rounds.values()]
    benchmarked = [row for row in rows if row["state"] != "failed"]
    assert len(rounds) == len(benchmarked) > 0
    assert sorted(r.ttft_p90 for r in rounds) == sorted(float(row["ttft_p90"]) for row in benchmarked)
    assert all(getattr(r, name) is None for r in rounds for name in PER_REQUEST)


def test_per_request_metrics_survive_a_write_and_read(tmp_path: Path) -> None:
    measured = round_metrics(concurrency=4, goodput=3.25, slo_attainment=0.8125, output_throughput_per_user=41.7)
    unmeasured = round_metrics(concurrency=8)  # a round recorded without them
    measurements = [
        Measurement(trial=0, params={"max-num-seqs": 8}, state=TrialState.succeeded, rounds={
            (measured.scenario, measured.concurrency): measured,
            (unmeasured.scenario, unmeasured.concurrency): unmeasured,
        }),
        Measurement(trial=1, params={"max-num-seqs": 64}, state=TrialState.failed, error="engine exited"),
    ]  # fmt: skip
    out = io.StringIO()
    write_surface(out, ["max-num-seqs"], measurements)
    path = tmp_path / "surface.csv"
    path.write_text(out.getvalue())
    assert set(PER_REQUEST) <= set(out.getvalue().splitlines()[0].split(","))

    surface = read_surface(path)

    read = surface.get({"max-num-seqs": 8})
    assert read is not None
    assert read.rounds == measurements[0].rounds
    assert read.rounds[("D(100,100)", 4)].goodput == 3.25
    assert read.rounds[("D(100,100)", 4)].slo_attainment == 0.8125
    assert read.rounds[("D(100,100)", 4)].output_throughput_per_user == 41.7
    assert read.rounds[("D(100,100)", 8)].goodput is None
    failed = surface.get({"max-num-seqs": 64})
    assert failed is not None and failed.state is TrialState.failed and failed.rounds == {}
