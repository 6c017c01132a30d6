"""The core of the sample-efficiency benchmark: a surface's facts, and how many trials a search needs to reach
its optimum (the definitions are in ``benchmarks.surfaces.sample_efficiency``'s docstring).

Shared by the single-surface script (``sample_efficiency``) and its ``--suite`` mode (``suite_efficiency``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from benchmarks.surfaces.replay import SurfaceGap, SurfaceReplay, replay_confirmation, replay_search
from benchmarks.surfaces.surface import Surface, config_key
from tuning.search.known import KnownResult
from tuning.spec import ConfirmationSpec, SLOSpec, StrategyName, TuningSpec, WarmStartMode
from tuning.spec.loading import InvalidFile, describe_validation_error, load_spec, read_document

TOLERANCE = 0.02
TARGET_SHARE = 0.15
TARGET_RATE = 0.9
# The noise of a replayed confirmation is drawn from seed * CONFIRMATION_SEEDS + trials: apart from the search's own.
CONFIRMATION_SEEDS = 1_000_003


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


def without_confirmation(spec: TuningSpec) -> TuningSpec:
    """The spec with no confirmation step: a run reports its best single measurement."""
    return spec.model_copy(update={"confirmation": ConfirmationSpec(top=0)})


def confirmation_text(spec: TuningSpec) -> str:
    confirmation = spec.confirmation
    if confirmation.top == 0:
        return "none (the best single measurement is reported)"
    return f"the {confirmation.top} leaders, {confirmation.repeats} more run(s) each"


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
    spec: TuningSpec,
    facts: SurfaceFacts,
    replay: SurfaceReplay,
    strategy: StrategyName,
    seed: int,
    max_trials: int | None = None,
    known: Sequence[KnownResult] = (),
    warm: WarmStartMode = WarmStartMode.off,
) -> float:
    """Trials a run needed until the configuration it would report was within 2% of the optimum; inf if never
    (within ``max_trials`` search trials, by default the grid's size). ``known`` and ``warm``: a warm start
    (``replay_search``).

    After each search trial the run is stopped there in thought: its confirmation step is replayed
    (``replay_confirmation``, with noise drawn apart from the search's) and its best decided as a real run decides
    it. The count is the search trials so far plus those confirmation runs: what a user who had set
    ``max_trials`` there would have spent to get that answer."""
    trials, measured = 0, []
    budget = max_trials or facts.configurations
    steps = replay_search(spec, replay, strategy, seed, budget, known=known, warm=warm)
    for step in steps:
        if step.repeat:
            continue
        trials += 1
        measured.append(step)
        aside = SurfaceReplay(replay.surface, replay.noise, seed * CONFIRMATION_SEEDS + trials)
        confirmation = replay_confirmation(spec, aside, measured)
        if confirmation.best is not None and config_key(confirmation.best.params) in facts.good:
            steps.close()
            return trials + len(confirmation.runs)
    steps.close()
    return math.inf


def run_strategies(
    spec: TuningSpec,
    surface: Surface,
    facts: SurfaceFacts,
    strategies: list[StrategyName],
    seeds: int,
    noise: float,
    max_trials: int | None = None,
) -> list[StrategyResult]:
    results = []
    for strategy in strategies:
        started = time.monotonic()
        reached = [
            trials_to_reach(spec, facts, SurfaceReplay(surface, noise, seed), strategy, seed, max_trials)
            for seed in range(seeds)
        ]
        results.append(StrategyResult(strategy, reached, time.monotonic() - started))
    return results
