"""The sample-efficiency benchmark over a folder of surfaces and several noise levels (``sample_efficiency --suite``).

Every search is judged as in the single-surface mode (``benchmarks.surfaces.sample_efficiency``: reached once the
configuration it would report is truly feasible and within 2% of the optimum); what this adds is pooling. A
search's trials are taken as a share of its surface's grid, so a 120- and a 224-configuration surface weigh
alike, and the medians and rates are over every (surface, seed) search of a strategy at a noise level.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from benchmarks.surfaces.efficiency import (
    TARGET_SHARE,
    TOLERANCE,
    StrategyResult,
    SurfaceFacts,
    UsageError,
    confirmation_text,
    load_inputs,
    run_strategies,
    surface_facts,
    without_confirmation,
)
from benchmarks.surfaces.replay import SurfaceReplay
from benchmarks.surfaces.surface import Surface, read_surface
from tuning.spec import StrategyName, TuningSpec

# A surface is failure-heavy when at least this share of its grid fails (the MoE spaces of issue 16: about a third).
FAILURE_HEAVY = 0.3
# Issue 16's targets for the default strategy at the highest noise level.
SUITE_TARGET_MEDIAN = 0.10
SUITE_TARGET_RATE = 0.9


@dataclass
class SuiteMember:
    path: Path
    spec: TuningSpec
    surface: Surface
    facts: SurfaceFacts

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def failed_share(self) -> float:
        return self.facts.failed / self.facts.configurations

    @property
    def failure_heavy(self) -> bool:
        return self.failed_share >= FAILURE_HEAVY


# (surface name, noise, strategy) -> that strategy's searches, one per seed.
SuiteRuns = dict[tuple[str, float, StrategyName], StrategyResult]


def load_suite(folder: Path, slos_arg: str | None, confirm: bool = True) -> list[SuiteMember]:
    """The folder's surfaces with their specs; ``confirm`` False takes each spec's confirmation step away."""
    if not folder.is_dir():
        raise UsageError(f"--suite: {folder} is not a folder (give one holding NAME.csv surfaces with NAME.yaml specs)")
    paths = sorted(folder.glob("*.csv"))
    if not paths:
        raise UsageError(f"--suite: {folder} holds no surface (NAME.csv with its NAME.yaml)")
    members = []
    for path in paths:
        spec = load_inputs(path, None, slos_arg)
        spec = spec if confirm else without_confirmation(spec)
        surface = read_surface(path)
        try:
            facts = surface_facts(spec, SurfaceReplay(surface))
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None
        members.append(SuiteMember(path, spec, surface, facts))
    return members


def run_suite(
    members: list[SuiteMember],
    strategies: list[StrategyName],
    seeds: int,
    noises: list[float],
    max_share: float = 1.0,
    progress: TextIO | None = None,
) -> SuiteRuns:
    runs: SuiteRuns = {}
    for noise in noises:
        for member in members:
            started = time.monotonic()
            budget = math.ceil(max_share * member.facts.configurations)
            results = run_strategies(member.spec, member.surface, member.facts, strategies, seeds, noise, budget)
            for result in results:
                runs[member.name, noise, result.strategy] = result
            if progress is not None:
                medians = ", ".join(
                    f"{r.strategy.value} {_share(r.median / member.facts.configurations)}" for r in results
                )
                print(
                    f"noise {noise:g} {member.name}: {medians} ({time.monotonic() - started:.0f} s)",
                    file=progress,
                    flush=True,
                )
    return runs


@dataclass
class Pooled:
    """One strategy at one noise level, over every surface and seed: trials to reach as shares of the grid."""

    shares: list[float]
    worse_than_random: list[str]  # failure-heavy surfaces where its median needs more trials than random's
    heavy: int
    seconds: float

    @property
    def median(self) -> float:
        return statistics.median(self.shares)

    def rate(self, within: float) -> float:
        return sum(s <= within for s in self.shares) / len(self.shares)

    @property
    def meets_target(self) -> bool:
        return self.median <= SUITE_TARGET_MEDIAN and self.rate(TARGET_SHARE) >= SUITE_TARGET_RATE


def pool(members: list[SuiteMember], runs: SuiteRuns, strategy: StrategyName, noise: float) -> Pooled:
    shares, worse, seconds = [], [], 0.0
    for member in members:
        result = runs[member.name, noise, strategy]
        size = member.facts.configurations
        shares += [n / size for n in result.reached_at]
        seconds += result.seconds
        baseline = runs.get((member.name, noise, StrategyName.random))
        if member.failure_heavy and baseline is not None and result.median > baseline.median:
            worse.append(member.name)
    heavy = sum(m.failure_heavy for m in members)
    return Pooled(shares, worse, heavy, seconds)


def _share(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.1%}"


def suite_report(
    folder: Path,
    members: list[SuiteMember],
    runs: SuiteRuns,
    strategies: list[StrategyName],
    noises: list[float],
    seeds: int,
    max_share: float = 1.0,
) -> str:
    heavy = [m for m in members if m.failure_heavy]
    lines = [
        f"Suite {folder.name}: {len(members)} surfaces, {min(m.facts.configurations for m in members)}-"
        f"{max(m.facts.configurations for m in members)} configurations, "
        f"{min(m.failed_share for m in members):.0%}-{max(m.failed_share for m in members):.0%} failed; "
        f"{len(heavy)} failure-heavy (at least {FAILURE_HEAVY:.0%} failed). Seeds: {seeds} per surface. "
        f"Each search stops after {max_share:.0%} of its grid. "
        f"Reached: the configuration a run stopped there would report is feasible and within {TOLERANCE:.0%} of "
        "the optimum, judged without noise. Confirmation replayed: "
        f"{confirmation_text(members[0].spec) if members else '-'}; its runs count as trials.",
        f"Issue 16 target, at noise {max(noises):g}: median <= {SUITE_TARGET_MEDIAN:.0%} of the grid, reached within "
        f"{TARGET_SHARE:.0%} of the grid in >= {SUITE_TARGET_RATE:.0%} of searches, and on failure-heavy surfaces a "
        "median no higher than random's.",
        "",
        f"| noise | strategy | median trials to reach (% of grid) | reached within {TARGET_SHARE:.0%} of grid "
        f"| reached within {max_share:.0%} of grid | failure-heavy surfaces where its median > random's "
        "| target | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for noise in noises:
        for strategy in strategies:
            p = pool(members, runs, strategy, noise)
            if strategy is StrategyName.random:
                versus = "-"
            else:
                versus = f"{len(p.worse_than_random)} of {p.heavy}" + (
                    f" ({', '.join(p.worse_than_random)})" if p.worse_than_random else ""
                )
            target = "-"
            if noise == max(noises) and strategy is not StrategyName.random:
                target = "meets" if p.meets_target and not p.worse_than_random else "misses"
            lines.append(
                f"| {noise:g} | {strategy.value} | {_share(p.median)} | {p.rate(TARGET_SHARE):.0%} "
                f"| {p.rate(max_share):.0%} | {versus} | {target} | {p.seconds:.0f} |"
            )
    lines += [
        "",
        "Per surface: median trials to reach, as % of the grid (never: more than half the seeds did not).",
        "",
    ]
    columns = [(noise, strategy) for noise in noises for strategy in strategies]
    lines.append(
        "| surface | grid | failed | feasible | within 2% | "
        + " | ".join(f"{s.value} @{n:g}" for n, s in columns)
        + " |"
    )
    lines.append("| --- " * (5 + len(columns)) + "|")
    for m in members:
        size = m.facts.configurations
        cells = [_share(runs[m.name, n, s].median / size) for n, s in columns]
        lines.append(
            f"| {m.name} | {size} | {m.failed_share:.0%} | {m.facts.feasible} | {len(m.facts.good)} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)
