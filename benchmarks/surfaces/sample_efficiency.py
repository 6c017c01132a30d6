"""How many trials each search strategy needs to find a recorded surface's best configuration.

    python -m benchmarks.surfaces.sample_efficiency SURFACE.csv [--spec SPEC.yaml] [--slos SLOS.yaml|none]
        [--seeds 20] [--strategies grid random tpe gp] [--noise 0.0 ...]
        [--markdown docs/search-efficiency.md [--section results]]
    python -m benchmarks.surfaces.sample_efficiency --suite benchmarks/surfaces/suite [--seeds 20]
        [--strategies random tpe gp] [--noise 0 0.03 0.05] [--markdown FILE [--section suite]]

The spec gives the search space, the objective and the SLOs; it defaults to the spec the surface was recorded
with (``SURFACE.yaml``). SLOs from ``--slos`` (default: ``SURFACE.slos.yaml`` when it exists) are added to the
spec's own. Each strategy runs once per seed, its trials replayed from the surface (``benchmarks.surfaces.replay``)
through servetune's own search and scoring.

The optimum is the best score of a configuration that meets every hard SLO, on the surface as recorded (no
noise). A search has *reached* it once the configuration a run stopped there would report is truly feasible and
within 2% of the optimum. What it would report is decided as a real run decides: after each search trial the
run's confirmation step (the spec's ``confirmation``: its leaders measured again) is replayed aside, and the
best is the configuration with the best mean over its measurements that met every hard SLO in each
(``benchmarks.surfaces.replay.replay_confirmation``). Trials are configurations run, failures and those
confirmation runs included; repeats of a configuration measured before do not count (they cost no engine time,
and a real run does not count them against its budget either). A search stops once it has run as many trials
as the grid has configurations. ``--no-confirmation`` replays none (``confirmation.top: 0``): the report is then
the best single measurement, as before issue 16.

Target: tpe or gp reaches the optimum within 15% of the grid's size (median over seeds) and reaches it at all in
at least 90% of the seeds.

``--suite FOLDER`` runs every surface of the folder (each ``NAME.csv`` with its ``NAME.yaml`` and, when present,
``NAME.slos.yaml``) at every ``--noise`` level, and reports per strategy and noise level, pooled over surfaces and
seeds: the median trials to reach the optimum as a share of each surface's grid, the share of searches that reach
it within 15% of the grid and at all, and on failure-heavy surfaces (at least 30% of the grid failed) on how many
the strategy's median needs more trials than random search's. A table per surface follows. Issue 16's targets
are judged at the highest noise level.

"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

from benchmarks.surfaces.efficiency import (
    TARGET_RATE,
    TARGET_SHARE,
    TOLERANCE,
    SLOFileError,
    StrategyResult,
    SurfaceFacts,
    UsageError,
    confirmation_text,
    load_inputs,
    run_strategies,
    surface_facts,
    trials_to_reach,
    without_confirmation,
)
from benchmarks.surfaces.replay import SurfaceGap, SurfaceReplay
from benchmarks.surfaces.surface import SurfaceError, read_surface
from tuning.spec import StrategyName, TuningSpec

__all__ = [
    "SLOFileError",
    "StrategyResult",
    "SurfaceFacts",
    "UsageError",
    "load_inputs",
    "main",
    "markers",
    "report",
    "run_strategies",
    "surface_facts",
    "trials_to_reach",
    "write_markdown",
]

TARGET_STRATEGIES = (StrategyName.tpe, StrategyName.gp)
DEFAULT_STRATEGIES = (StrategyName.grid, StrategyName.random, StrategyName.tpe, StrategyName.gp)


def markers(section: str) -> tuple[str, str]:
    """The comments that enclose a results section of a markdown file; the script rewrites what is between them."""
    return f"<!-- sample-efficiency {section}: start -->", f"<!-- sample-efficiency {section}: end -->"


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
        f"SLOs: {slos}. Seeds: {seeds}. Noise: {noise:g}. Confirmation replayed: {confirmation_text(spec)}.",
        f"Target: median trials <= {budget:g} "
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
    parser.add_argument("surface", type=Path, nargs="?", help="surface CSV (see benchmarks/surfaces/surface.py)")
    parser.add_argument(
        "--suite", type=Path, help="a folder of surfaces (NAME.csv + NAME.yaml) to run all, instead of one SURFACE"
    )
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
    parser.add_argument(
        "--noise",
        type=float,
        nargs="+",
        default=[0.0],
        help="relative measurement noise of replayed rounds; several levels run one after the other (default 0)",
    )
    parser.add_argument(
        "--max-share",
        type=float,
        default=1.0,
        help="--suite: stop each search after this share of its grid (default 1: the whole grid); gp's later "
        "trials are its slowest",
    )
    parser.add_argument(
        "--no-confirmation",
        action="store_true",
        help="replay no confirmation step (confirmation.top: 0): judge the best single measurement",
    )
    parser.add_argument("--markdown", type=Path, help="also write the results into this markdown file")
    parser.add_argument(
        "--section", default="results", help="which marked section of --markdown to rewrite (default: results)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")
    for noise in args.noise:
        if noise < 0 or not math.isfinite(noise):
            parser.error(f"--noise must be a finite number >= 0 (such as 0.05 for about 5%), not {noise}")
    if not 0 < args.max_share <= 1:
        parser.error(f"--max-share must be above 0 and at most 1 (a share of the grid), not {args.max_share}")
    if args.surface is not None and args.max_share != 1.0:
        parser.error("--max-share applies to --suite only; one surface's searches run the whole grid")
    if (args.surface is None) == (args.suite is None):
        parser.error("give either a SURFACE.csv or --suite FOLDER (not both)")
    if args.suite is not None and args.spec is not None:
        parser.error("--spec applies to one SURFACE; a suite's surfaces each have their own NAME.yaml")
    _quiet_optuna()
    strategies = [StrategyName(s) for s in args.strategies]
    try:
        if args.suite is not None:
            from benchmarks.surfaces.suite_efficiency import load_suite, run_suite, suite_report

            members = load_suite(args.suite, args.slos, confirm=not args.no_confirmation)
            runs = run_suite(members, strategies, args.seeds, args.noise, args.max_share, progress=sys.stderr)
            text = suite_report(args.suite, members, runs, strategies, args.noise, args.seeds, args.max_share)
        else:
            spec = load_inputs(args.surface, args.spec, args.slos)
            spec = spec if not args.no_confirmation else without_confirmation(spec)
            surface = read_surface(args.surface)
            facts = surface_facts(spec, SurfaceReplay(surface))
            texts = []
            for noise in args.noise:
                results = run_strategies(spec, surface, facts, strategies, args.seeds, noise)
                texts.append(report(args.surface, spec, facts, results, args.seeds, noise))
            text = "\n\n".join(texts)
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
