"""The GPU-shaped benchmark suite: its generator, the committed surfaces, and sample_efficiency's --suite mode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.surfaces.replay import SurfaceReplay
from benchmarks.surfaces.sample_efficiency import load_inputs, surface_facts
from benchmarks.surfaces.sample_efficiency import main as efficiency_main
from benchmarks.surfaces.surface import config_key, read_surface
from benchmarks.surfaces.synthetic import (
    A100_40_X4,
    DENSE_8B,
    DENSE_8B_LONG,
    H100_X4,
    INVALID_PARALLELISM,
    KV_DTYPE,
    OUT_OF_MEMORY,
    SEQS,
    SUITE,
    TOKENS,
    TP,
    Load,
    SurfaceDesign,
    evaluate,
    measurements,
    write,
)
from benchmarks.surfaces.synthetic import main as synthetic_main
from tests.support.paths import REPO
from tuning.evaluation.outcome import TrialState

SUITE_DIR = REPO / "benchmarks" / "surfaces" / "suite"

TINY = SurfaceDesign(
    "tiny-8b",
    "A tiny test surface.",
    DENSE_8B,
    H100_X4,
    Load(512, 128, 32),
    {TP: [1, 2, 8], SEQS: [8, 32, 128], KV_DTYPE: ["auto", "fp8"]},
    "output_throughput_per_gpu",
    [{"metric": "ttft", "statistic": "p90", "max": 2.0}, {"metric": "tpot", "statistic": "p90", "max": 0.03}],
)


def test_the_generator_gives_the_same_surface_for_a_seed_and_another_for_another_seed() -> None:
    design = SUITE[0]
    first = measurements(design, 3)
    assert first == measurements(design, 3)
    other = measurements(design, 4)
    assert [m.params for m in other] == [m.params for m in first]
    assert [m.rounds for m in other] != [m.rounds for m in first]


def test_the_committed_suite_is_what_the_generator_writes(tmp_path: Path) -> None:
    assert synthetic_main(["--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in SUITE_DIR.iterdir())
    for name in written:
        assert (tmp_path / name).read_text() == (SUITE_DIR / name).read_text(), name


@pytest.mark.parametrize("csv", sorted(SUITE_DIR.glob("*.csv")), ids=lambda p: p.stem)
def test_each_committed_surface_has_the_shape_of_a_gpu_space(csv: Path) -> None:
    spec = load_inputs(csv, None, None)
    surface = read_surface(csv)
    facts = surface_facts(spec, SurfaceReplay(surface))
    assert 3 <= len(surface.parameters) <= 5
    assert 100 <= facts.configurations <= 500
    assert 0.2 <= facts.failed / facts.configurations <= 0.4
    errors = {m.error.split(":")[0] for m in surface.measurements.values() if m.state is TrialState.failed}
    assert errors <= {OUT_OF_MEMORY, INVALID_PARALLELISM}
    # SLOs bind: some configurations that run break one, and the optimum is among those that do not.
    assert facts.feasible < facts.configurations - facts.failed
    assert 1 <= len(facts.good) < facts.feasible


def test_the_suite_has_both_kinds_of_failure_and_optima_in_different_places() -> None:
    errors, best_tp = set(), set()
    for design in SUITE:
        rows = measurements(design, 0)
        errors |= {m.error.split(":")[0] for m in rows if m.state is TrialState.failed}
        spec = load_inputs(SUITE_DIR / f"{design.name}.csv", None, None)
        surface = read_surface(SUITE_DIR / f"{design.name}.csv")
        facts = surface_facts(spec, SurfaceReplay(surface))
        best_tp |= {m.params[TP] for m in rows if config_key(m.params) in facts.good}
    assert errors == {OUT_OF_MEMORY, INVALID_PARALLELISM}
    assert len(best_tp) >= 3  # the optima sit at different tensor-parallel sizes


def test_the_model_fails_what_cannot_run_and_ties_what_the_load_cannot_tell_apart() -> None:
    long_context = replace(TINY, model=DENSE_8B_LONG, gpu=A100_40_X4, load=Load(16000, 512, 16))
    params = {TP: 1, SEQS: 8, KV_DTYPE: "auto", TOKENS: 8192}
    assert evaluate(long_context, params, 0).error.startswith(f"{OUT_OF_MEMORY}: the KV cache holds")
    assert evaluate(long_context, {**params, KV_DTYPE: "fp8"}, 0).round is not None  # half the bytes a token
    assert evaluate(TINY, {TP: 8, SEQS: 8, KV_DTYPE: "auto"}, 0).error.startswith(INVALID_PARALLELISM)
    # Above the load's 32 concurrent requests a larger max-num-seqs changes nothing but the kernels' luck (1%).
    plateau = [evaluate(TINY, {TP: 2, SEQS: s, KV_DTYPE: "auto"}, 0).round for s in (32, 128)]
    below = evaluate(TINY, {TP: 2, SEQS: 8, KV_DTYPE: "auto"}, 0).round
    assert plateau[0] and plateau[1] and below
    assert plateau[1].output_throughput == pytest.approx(plateau[0].output_throughput, rel=0.05)
    assert below.output_throughput < 0.5 * plateau[0].output_throughput
    assert below.ttft_p90 > plateau[0].ttft_p90  # requests queue for a batch slot


def test_suite_mode_reports_every_strategy_at_every_noise_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite"
    write(TINY, suite, 0)
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# kept\n<!-- sample-efficiency suite: start -->\nold numbers\n<!-- sample-efficiency suite: end -->\n"
    )
    args = ["--suite", str(suite), "--seeds", "2", "--strategies", "random", "tpe", "gp", "--noise", "0", "0.05"]
    # Half the grid keeps gp, the slow one, to a few seconds.
    assert efficiency_main([*args, "--max-share", "0.5", "--markdown", str(doc), "--section", "suite"]) == 0
    out = capsys.readouterr().out
    assert "Suite suite: 1 surfaces, 18-18 configurations, 33%-33% failed; 1 failure-heavy" in out
    assert "Each search stops after 50% of its grid." in out
    rows = [line.split("|")[1:3] for line in out.splitlines() if line.startswith("| 0")]
    assert sorted((n.strip(), s.strip()) for n, s in rows) == sorted(
        (n, s) for n in ("0", "0.05") for s in ("random", "tpe", "gp")
    )
    assert "| tiny-8b | 18 | 33% |" in out
    text = doc.read_text()
    assert text.startswith("# kept") and "old numbers" not in text and "--suite" in text and "| 0.05 | gp |" in text


def test_suite_mode_names_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert efficiency_main(["--suite", str(tmp_path)]) == 2
    assert f"--suite: {tmp_path} holds no surface" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        efficiency_main([str(SUITE_DIR / "dense-70b-h100-chat.csv"), "--suite", str(SUITE_DIR)])
    assert "give either a SURFACE.csv or --suite FOLDER" in capsys.readouterr().err
