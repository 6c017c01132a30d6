"""Does a warm start help? Trials to the optimum of a surface, from nothing and from an earlier search of a related one.

    python -m benchmarks.surfaces.warm_start_efficiency [--seeds 10] [--noise 0.05] [--strategy tpe]
        [--max-share 0.25] [--later-seed 1] [--only NAME ...] [--markdown FILE]

For each surface of the synthetic suite (``benchmarks/surfaces/synthetic.py``), the *earlier* surface is the
committed one (kernel luck seed 0) and the *later* one is the same design drawn with ``--later-seed``: the same
model, engine, hardware class and workload, measured again with each GPU about 3% and each configuration about 1%
faster or slower. That is what ``warm_start`` matches on: the earlier run is the same target, tuned before.

Per search seed: an earlier search (``--strategy``, stopped after ``--max-share`` of the grid) runs on the earlier
surface; its measured configurations become the known results. Then three searches run on the later surface with
the same seed: ``cold`` (no warm start), ``known`` (told the earlier results first) and ``candidates`` (the
earlier best three run first). Each is judged as the sample-efficiency benchmark judges a search: trials until the
configuration it would report is truly feasible and within 2% of the later surface's optimum (known results are
never the reported one: only what the later search measured counts). Replayed with ``--noise``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.surfaces.efficiency import surface_facts, trials_to_reach
from benchmarks.surfaces.replay import SurfaceReplay, replay_search
from benchmarks.surfaces.surface import read_surface
from benchmarks.surfaces.synthetic import SUITE, SurfaceDesign, measurements, spec_document
from tuning.evaluation.surface import write_surface
from tuning.search.known import KnownResult
from tuning.spec import StrategyName, TuningSpec, WarmStartMode

SUITE_DIR = Path(__file__).parent / "suite"
MODES = (WarmStartMode.off, WarmStartMode.known, WarmStartMode.candidates)
LABELS = {WarmStartMode.off: "cold", WarmStartMode.known: "known", WarmStartMode.candidates: "candidates"}


@dataclass
class Outcome:
    """One surface: per warm-start mode, the trials each seed's later search needed (inf: not within budget)."""

    name: str
    grid: int
    budget: int
    reached: dict[WarmStartMode, list[float]]

    def median_share(self, mode: WarmStartMode) -> float:
        return statistics.median(self.reached[mode]) / self.grid

    def rate(self, mode: WarmStartMode, share: float) -> float:
        return sum(t <= share * self.grid for t in self.reached[mode]) / len(self.reached[mode])


def earlier_results(spec: TuningSpec, replay: SurfaceReplay, strategy: StrategyName, seed: int, budget: int) -> list:
    """What an earlier search measured, as the store would hand it to ``warm_start``."""
    known = []
    for step in replay_search(spec, replay, strategy, seed, budget):
        if step.repeat or step.failed or step.value is None:
            continue
        values = step.objective_scores or [step.value]
        known.append(KnownResult(step.params, values, step.constraints, step.feasible, f"earlier trial {step.number}"))
    return known


def measure(
    design: SurfaceDesign, folder: Path, seeds: int, noise: float, strategy: StrategyName, share: float, later_seed: int
) -> Outcome:
    spec = TuningSpec.model_validate(spec_document(design))
    earlier = read_surface(SUITE_DIR / f"{design.name}.csv")
    later_path = folder / f"{design.name}-{later_seed}.csv"
    with later_path.open("w", encoding="utf-8") as out:
        write_surface(out, list(design.space), measurements(design, later_seed))
    later = read_surface(later_path)
    facts = surface_facts(spec, SurfaceReplay(later))
    budget = math.ceil(share * facts.configurations)
    reached: dict[WarmStartMode, list[float]] = {mode: [] for mode in MODES}
    for seed in range(seeds):
        known = earlier_results(spec, SurfaceReplay(earlier, noise, seed), strategy, seed, budget)
        for mode in MODES:
            # The later search's noise draws differ from the earlier one's: another seed for its generator.
            replay = SurfaceReplay(later, noise, 1000 + seed)
            reached[mode].append(trials_to_reach(spec, facts, replay, strategy, seed, budget, known, mode))
    return Outcome(design.name, facts.configurations, budget, reached)


def _share(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.1%}"


def report(
    outcomes: Sequence[Outcome], seeds: int, noise: float, strategy: StrategyName, share: float, later_seed: int
) -> str:
    header = (
        f"Warm start, {strategy.value}, {seeds} seeds per surface, noise {noise:g}, each search stopped after "
        f"{share:.0%} of its grid; earlier surfaces: seed 0, later: seed {later_seed}.\n\n"
        "Median trials to the optimum (share of the grid; never: not within the budget), and the share of seeds "
        "that reached it within 15% of the grid:\n\n"
    )
    columns = " | ".join(f"{LABELS[m]} median | {LABELS[m]} ≤15%" for m in MODES)
    lines = [f"| surface | grid | {columns} |", "|---|---|" + "---|---|" * len(MODES)]
    for outcome in outcomes:
        cells = " | ".join(f"{_share(outcome.median_share(m))} | {outcome.rate(m, 0.15):.0%}" for m in MODES)
        lines.append(f"| {outcome.name} | {outcome.grid} | {cells} |")
    pooled = []
    for mode in MODES:
        shares = [t / o.grid for o in outcomes for t in o.reached[mode]]
        rate = sum(s <= 0.15 for s in shares) / len(shares)
        pooled.append(f"{_share(statistics.median(shares))} | {rate:.0%}")
    lines.append(f"| **all** | | {' | '.join(pooled)} |")
    return header + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.surfaces.warm_start_efficiency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=10, help="search seeds per surface (default 10)")
    parser.add_argument("--noise", type=float, default=0.05, help="relative noise of replayed rounds (default 0.05)")
    parser.add_argument("--strategy", type=StrategyName, default=StrategyName.tpe, help="sampler (default tpe)")
    parser.add_argument("--max-share", type=float, default=0.25, help="budget as a share of the grid (default 0.25)")
    parser.add_argument("--later-seed", type=int, default=1, help="kernel luck seed of the later surfaces (default 1)")
    parser.add_argument("--only", nargs="+", help="surface names to run (default: the whole suite)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    designs = [d for d in SUITE if not args.only or d.name in args.only]
    if not designs:
        parser.error(f"--only: no such surface; the suite has {', '.join(d.name for d in SUITE)}")
    if args.later_seed == 0:
        parser.error("--later-seed 0 is the earlier surfaces' own seed: give another")
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        for design in designs:
            outcome = measure(
                design, Path(folder), args.seeds, args.noise, args.strategy, args.max_share, args.later_seed
            )
            medians = ", ".join(f"{LABELS[m]} {_share(outcome.median_share(m))}" for m in MODES)
            print(f"{design.name}: {medians}", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    text = report(outcomes, args.seeds, args.noise, args.strategy, args.max_share, args.later_seed)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
