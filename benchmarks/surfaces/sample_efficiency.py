"""How many trials each search strategy needs to find a recorded surface's best configuration.

    python -m benchmarks.surfaces.sample_efficiency SURFACE.csv [--spec SPEC.yaml] [--slos SLOS.yaml|none]
        [--seeds 20] [--strategies grid random tpe gp] [--noise 0.0]
        [--markdown docs/search-efficiency.md [--section results]]

The spec gives the search space, the objective and the SLOs; it defaults to the spec the surface was recorded
with (``SURFACE.yaml``). SLOs from ``--slos`` (default: ``SURFACE.slos.yaml`` when it exists) are added to the
spec's own. Each strategy runs once per seed, its trials replayed from the surface (``benchmarks.surfaces.replay``)
through servetune's own search and scoring.

The optimum is the best score of a configuration that meets every hard SLO, on the surface as recorded (no
noise). A search has *reached* it once the configuration it would report (its best feasible trial by the
scores it was told) is truly feasible and within 2% of the optimum. Trials are configurations run: failures
count, repeats of a configuration measured before do not (they cost no engine time, and a real run does not
count them against its budget either). A search stops once it has run as many trials as the grid has
configurations.

Target: tpe or gp reaches the optimum within 15% of the grid's size (median over seeds) and reaches it at all in
at least 90% of the seeds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from benchmarks.surfaces.replay import SurfaceGap, SurfaceReplay, replay_search
from benchmarks.surfaces.surface import Surface, SurfaceError, config_key, read_surface
from tuning.spec import SLOSpec, StrategyName, TuningSpec
from tuning.spec.loading import InvalidFile, describe_validation_error, load_spec, read_document

TOLERANCE = 0.02
TARGET_SHARE = 0.15
TARGET_RATE = 0.9
TARGET_STRATEGIES = (StrategyName.tpe, StrategyName.gp)
DEFAULT_STRATEGIES = (StrategyName.grid, StrategyName.random, StrategyName.tpe, StrategyName.gp)


def markers(section: str) -> tuple[str, str]:
    """The comments that enclose a results section of a markdown file; the script rewrites what is between them."""
    return f"<!-- sample-efficiency {section}: start -->", f"<!-- sample-efficiency {section}: end -->"


class UsageError(ValueError):
    pass


class SLOFileError(InvalidFile):
    kind = "SLO list"


@dataclass
class SurfaceFacts:
    configurations: int
    failed: int
    feasible: int
    best: float
    maximize: bool
    good: set[str]  # keys of the configurations within TOLERANCE of the best feasible score


@dataclass
class StrategyResult:
    strategy: StrategyName
    reached_at: list[float]  # per seed: trials run until reached; inf when it never was
    seconds: float

    @property
    def median(self) -> float:
        return statistics.median(self.reached_at)

    def rate(self, within: float) -> float:
        return sum(n <= within for n in self.reached_at) / len(self.reached_at)


def load_inputs(surface_path: Path, spec_path: Path | None, slos_arg: str | None) -> TuningSpec:
    spec_path = spec_path or surface_path.with_suffix(".yaml")
    if not spec_path.exists():
        raise UsageError(f"--spec: no spec given and {spec_path} (the surface's recording spec) does not exist")
    try:
        spec = load_spec(spec_path)
        slos_path = surface_path.with_name(surface_path.stem + ".slos.yaml") if slos_arg is None else None
        if slos_arg not in (None, "none"):
            slos_path = Path(slos_arg)
            if not slos_path.is_file():
                raise UsageError(f"--slos: {slos_arg!r} is not a file (give a YAML list of SLOs, or none)")
        if slos_path is not None and slos_path.is_file():
            data = read_document(slos_path, SLOFileError)
            if not isinstance(data, list):
                raise UsageError(f"--slos: {slos_path} must hold a YAML list of SLOs, not {type(data).__name__}")
            try:
                extra = [SLOSpec.model_validate(item) for item in data]
            except ValidationError as exc:
                raise UsageError(f"{slos_path}: {'; '.join(describe_validation_error(exc))}") from None
            spec = spec.model_copy(update={"slos": [*spec.slos, *extra]})
    except InvalidFile as exc:
        raise UsageError(str(exc)) from None
    return spec


def surface_facts(spec: TuningSpec, replay: SurfaceReplay) -> SurfaceFacts:
    from tuning.search.space import SearchSpaceError, grid

    true_scores: dict[str, tuple[float, bool]] = {}
    failed = 0
    try:
        configurations = grid(spec)
    except SearchSpaceError as exc:
        raise UsageError(f"the spec's search space must be a grid a surface can cover: {exc}") from None
    for params in configurations:
        try:
            trial = replay.trial(spec, params)
        except SurfaceGap as gap:
            raise UsageError(
                f"{gap}: the spec's grid has {len(configurations)} configurations, the surface "
                f"{len(replay.surface)}; give --spec a search space, scenarios and levels the surface covers"
            ) from None
        if trial.failed or trial.score is None:
            failed += 1
            continue
        true_scores[config_key(params)] = (trial.score.value, trial.score.feasible)
    feasible = {k: v for k, (v, ok) in true_scores.items() if ok}
    if not feasible:
        raise UsageError("no configuration of the surface meets every hard SLO: there is no optimum to find")
    maximize = spec.objective.maximize
    best = max(feasible.values()) if maximize else min(feasible.values())
    good = {k for k, v in feasible.items() if abs(v - best) <= TOLERANCE * abs(best)}
    return SurfaceFacts(len(true_scores) + failed, failed, len(feasible), best, maximize, good)


def trials_to_reach(
    spec: TuningSpec, facts: SurfaceFacts, replay: SurfaceReplay, strategy: StrategyName, seed: int
) -> float:
    """Trials a search ran until the configuration it would report was within 2% of the optimum; inf if never."""
    trials, incumbent = 0, None
    steps = replay_search(spec, replay, strategy, seed, facts.configurations)
    for step in steps:
        if step.repeat:
            continue
        trials += 1
        if step.feasible and step.value is not None:
            better = incumbent is None or (step.value > incumbent[0] if facts.maximize else step.value < incumbent[0])
            if better:
                incumbent = (step.value, config_key(step.params))
        if incumbent is not None and incumbent[1] in facts.good:
            steps.close()
            return trials
    steps.close()
    return math.inf


def run_strategies(
    spec: TuningSpec, surface: Surface, facts: SurfaceFacts, strategies: list[StrategyName], seeds: int, noise: float
) -> list[StrategyResult]:
    results = []
    for strategy in strategies:
        started = time.monotonic()
        reached = [
            trials_to_reach(spec, facts, SurfaceReplay(surface, noise, seed), strategy, seed) for seed in range(seeds)
        ]
        results.append(StrategyResult(strategy, reached, time.monotonic() - started))
    return results


def _trials(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:g}"


def report(
    surface_path: Path, spec: TuningSpec, facts: SurfaceFacts, results: list[StrategyResult], seeds: int, noise: float
) -> str:
    size = facts.configurations
    budget = TARGET_SHARE * size
    slos = ", ".join(s.label + ("" if s.hard else " (soft)") for s in spec.slos) or "none"
    lines = [
        f"Surface {surface_path.name}: {size} configurations, {facts.failed} failed, {facts.feasible} feasible, "
        f"{len(facts.good)} within {TOLERANCE:.0%} of the best feasible score {facts.best:.4g} "
        f"({spec.objective.label}, {'max' if facts.maximize else 'min'}imized).",
        f"SLOs: {slos}. Seeds: {seeds}. Noise: {noise:g}. Target: median trials <= {budget:g} "
        f"({TARGET_SHARE:.0%} of {size}) and reached in >= {TARGET_RATE:.0%} of seeds, by tpe or gp.",
        "",
        f"| strategy | median trials to reach | reached (within {size} trials) | reached within {budget:g} trials "
        "| verdict | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        passes = r.median <= budget and r.rate(size) >= TARGET_RATE
        verdict = ("meets target" if passes else "misses target") if r.strategy in TARGET_STRATEGIES else "-"
        lines.append(
            f"| {r.strategy.value} | {_trials(r.median)} | {r.rate(size):.0%} | {r.rate(budget):.0%} | {verdict} "
            f"| {r.seconds:.1f} |"
        )
    judged = [r for r in results if r.strategy in TARGET_STRATEGIES]
    if judged:
        met = [r.strategy.value for r in judged if r.median <= budget and r.rate(size) >= TARGET_RATE]
        verdict = f"met by {', '.join(met)}" if met else "NOT met"
        lines += ["", f"Target: {verdict}."]
    return "\n".join(lines)


def write_markdown(path: Path, section: str, text: str, command: str) -> None:
    """Put the results between the section's markers in ``path``, keeping what is around them.

    A new file gets just the section.
    """
    opening, closing = markers(section)
    block = f"{opening}\n```\n{command}\n```\n\n{text}\n{closing}"
    if not path.exists():
        path.write_text(block + "\n", encoding="utf-8")
        return
    current = path.read_text(encoding="utf-8")
    start, end = current.find(opening), current.find(closing)
    if start < 0 or end < start:
        raise UsageError(f"--markdown: {path} exists but has no markers {opening} ... {closing} to put the results in")
    path.write_text(current[:start] + block + current[end + len(closing) :], encoding="utf-8")


def _quiet_optuna() -> None:
    """Hundreds of studies are created and Optuna marks multivariate TPE and GP experimental: keep the output lean."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.surfaces.sample_efficiency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("surface", type=Path, help="surface CSV (see benchmarks/surfaces/surface.py)")
    parser.add_argument(
        "--spec", type=Path, help="spec with the search space, objective and SLOs (default: SURFACE.yaml)"
    )
    parser.add_argument(
        "--slos", help="YAML list of SLOs added to the spec's (default: SURFACE.slos.yaml if present); none"
    )
    parser.add_argument("--seeds", type=int, default=20, help="searches per strategy, seeded 0, 1, ... (default 20)")
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=[s.value for s in DEFAULT_STRATEGIES],
        choices=[s.value for s in StrategyName],
        help=f"strategies to compare (default: {' '.join(s.value for s in DEFAULT_STRATEGIES)})",
    )
    parser.add_argument("--noise", type=float, default=0.0, help="relative measurement noise of replayed rounds")
    parser.add_argument("--markdown", type=Path, help="also write the results into this markdown file")
    parser.add_argument(
        "--section", default="results", help="which marked section of --markdown to rewrite (default: results)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")
    if args.noise < 0 or not math.isfinite(args.noise):
        parser.error(f"--noise must be a finite number >= 0 (such as 0.05 for about 5%), not {args.noise}")
    _quiet_optuna()
    try:
        spec = load_inputs(args.surface, args.spec, args.slos)
        surface = read_surface(args.surface)
        facts = surface_facts(spec, SurfaceReplay(surface))
        strategies = [StrategyName(s) for s in args.strategies]
        results = run_strategies(spec, surface, facts, strategies, args.seeds, args.noise)
        text = report(args.surface, spec, facts, results, args.seeds, args.noise)
        print(text)
        if args.markdown:
            command = "python -m benchmarks.surfaces.sample_efficiency " + " ".join(argv or sys.argv[1:])
            write_markdown(args.markdown, args.section, text, command)
    except (UsageError, SurfaceError, SurfaceGap) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
