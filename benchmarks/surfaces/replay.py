"""Replay a recorded surface in place of an engine and genai-bench, so a tuning search costs milliseconds.

A replayed trial follows the trial flow's rules (``flows/trial.py``): concurrency levels in ascending order, each
yielding one round per traffic scenario; after each level servetune's own early-stop policy
(``tuning.evaluation.early_stop``) decides, so a broken hard SLO stops the trial there; the rounds are scored
against every objective of the spec. A configuration the surface recorded as failed fails again. A pruner is not
replayed (it needs the study's storage from inside the trial); nor are confirmation runs.

A replayed search is servetune's own ``tuning.search.study.Search``, asked and told as ``flows/tune.py`` does: a
configuration measured before is not run again, its earlier score is told once more (a repeat, which costs no
engine time and no budget); a failed trial is told as failed. A multi-objective spec's study is told one value per
objective.

Noise: with ``noise=s`` every float metric of a replayed round is multiplied by ``exp(s * z)``, ``z`` standard
normal, drawn afresh for each measurement from a generator seeded by ``seed``
(``tuning.evaluation.surface.with_noise``, which the ``replay`` deployer uses too). Values stay positive, and
``s`` is roughly the relative standard deviation (0.05: about 5%). Counts and the error rate are kept.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from benchmarks.surfaces.surface import Surface, SurfaceGap, config_key
from tuning.evaluation.early_stop import early_stop
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import TrialState
from tuning.evaluation.pareto import Goal
from tuning.evaluation.ranking import decided_best, leaders
from tuning.evaluation.scoring import Score, score_trial
from tuning.evaluation.surface import with_noise
from tuning.search.known import KnownResult
from tuning.spec import Configuration, StrategyName, StrategySpec, TuningSpec, WarmStartMode

__all__ = [
    "Confirmation",
    "ReplayedTrial",
    "SearchStep",
    "SurfaceGap",
    "SurfaceReplay",
    "replay_confirmation",
    "replay_search",
]


@dataclass
class ReplayedTrial:
    params: Configuration
    state: TrialState
    error: str = ""
    rounds: list[RoundMetrics] = field(default_factory=list)
    score: Score | None = None
    stopped_early: str | None = None

    @property
    def failed(self) -> bool:
        return self.state is TrialState.failed


class SurfaceReplay:
    """The stand-in for deploying a configuration and benchmarking it: rounds come from the surface."""

    def __init__(self, surface: Surface, noise: float = 0.0, seed: int | None = None) -> None:
        if noise < 0 or not math.isfinite(noise):
            raise ValueError(f"noise must be a finite number >= 0 (a relative spread such as 0.05), not {noise}")
        self.surface = surface
        self.noise = noise
        self._random = random.Random(seed)

    def benchmark(self, params: Configuration, scenario: str, concurrency: int) -> RoundMetrics:
        return with_noise(self.surface.round(params, scenario, concurrency), self.noise, self._random)

    def trial(self, spec: TuningSpec, params: Configuration) -> ReplayedTrial:
        """One trial as ``flows/trial.py`` runs it, on recorded rounds instead of an engine."""
        measurement = self.surface.measurement(params)
        if measurement.state == TrialState.failed:
            return ReplayedTrial(params=params, state=TrialState.failed, error=measurement.error)
        trial = ReplayedTrial(params=params, state=TrialState.succeeded)
        for step, level in enumerate(spec.benchmark.concurrency):
            trial.rounds += [self.benchmark(params, s, level) for s in spec.benchmark.traffic_scenarios]
            if (stop := early_stop(spec, trial.rounds, step, None, measurement.gpus)) is not None:
                trial.stopped_early = stop.reason
                break
        trial.score = score_trial(spec, trial.rounds, measurement.gpus)
        return trial


@dataclass
class SearchStep:
    """One trial number of a replayed search: a configuration run (or failed), or a repeat of an earlier one; or a
    confirmation run, which names the trial it measures again in ``confirms``.

    ``value`` is the score of the objective that ranks; ``objective_scores`` has one per objective of the spec.
    It reads as a recorded trial (``tuning.evaluation.outcome.MeasuredTrial``), so a real run's ranking ranks it.
    """

    number: int
    params: Configuration
    state: TrialState
    value: float | None
    feasible: bool
    objective_scores: list[float] = field(default_factory=list)
    constraints: list[float] = field(default_factory=list)
    confirms: int | None = None
    violations: tuple = ()
    stopped_early: str | None = None

    @property
    def score(self) -> float | None:
        return self.value

    @property
    def repeat(self) -> bool:
        return self.state is TrialState.repeated

    @property
    def failed(self) -> bool:
        return self.state is TrialState.failed


def replay_search(
    spec: TuningSpec,
    replay: SurfaceReplay,
    strategy: StrategyName,
    seed: int,
    max_trials: int,
    study_name: str | None = None,
    storage_url: str | None = None,
    known: Sequence[KnownResult] = (),
    warm: WarmStartMode = WarmStartMode.off,
    top: int = 3,
) -> Generator[SearchStep, None, None]:
    """Steps of a search with ``strategy`` over ``spec``'s space, each trial replayed.

    It stops once ``max_trials`` configurations have run (repeats are free, as in a real run) or no
    configuration is left to run.

    The caller may stop early: it is a generator. The study is kept in memory unless ``storage_url`` is given.
    ``known`` results of an earlier search are given to the study as ``warm`` says (``warm_start.mode``).
    """
    from tuning.search.study import Search

    searched = spec.model_copy(update={"strategy": StrategySpec(name=strategy, seed=seed, max_trials=max_trials)})
    # Without a storage URL Optuna keeps the study in memory: a replayed trial costs no database round trips.
    search = Search(searched, study_name or f"replay-{strategy}-{seed}", storage_url)
    if warm is WarmStartMode.known:
        search.learn(known)
    elif warm is WarmStartMode.candidates:
        search.first_candidates(known, top, spec.objective.maximize)
    told: dict[str, SearchStep] = {}
    while (asked := search.ask()) is not None:
        number, params = asked
        if (earlier := search.measured(params)) is not None:
            first = told[config_key(params)]
            search.tell_repeat(number, earlier)
            yield SearchStep(number, params, TrialState.repeated, first.value, first.feasible, first.objective_scores)
            continue
        step = _step(number, replay.trial(searched, params))
        if step.failed:
            search.tell_infeasible(number)
        else:
            told[config_key(params)] = step
            search.tell_value(number, step.objective_scores, step.constraints)
        yield step


def _step(number: int, trial: ReplayedTrial, confirms: int | None = None) -> SearchStep:
    """A replayed trial as one step of a search: failed (no score), or scored."""
    if trial.failed or trial.score is None:
        return SearchStep(number, trial.params, TrialState.failed, None, False, confirms=confirms)
    score = trial.score
    return SearchStep(
        number,
        trial.params,
        TrialState.succeeded,
        score.value,
        score.feasible,
        score.objective_scores,
        list(score.constraints),
        confirms=confirms,
    )


@dataclass
class Confirmation:
    """What a run that stopped after ``measured`` would report: the confirmation ``runs`` it took, and its ``best``
    (None when no configuration met every hard SLO in each of its measurements)."""

    runs: list[SearchStep]
    best: SearchStep | None


def replay_confirmation(spec: TuningSpec, replay: SurfaceReplay, measured: Sequence[SearchStep]) -> Confirmation:
    """A real run's confirmation step, replayed after the search trials ``measured``: each of the leaders measured
    ``confirmation.repeats`` more times, then the best chosen on every measurement, as ``flows/tune.py`` does."""
    trials, goal = [step for step in measured if not step.repeat], Goal.of_spec(spec)
    number = max((step.number for step in trials), default=-1) + 1
    runs: list[SearchStep] = []
    for original in leaders(trials, goal)[: spec.confirmation.top]:
        for _ in range(spec.confirmation.repeats):
            runs.append(_step(number, replay.trial(spec, original.params), confirms=original.number))
            number += 1
    best = decided_best([*trials, *runs], goal)
    return Confirmation(runs, best if isinstance(best, SearchStep) else None)
