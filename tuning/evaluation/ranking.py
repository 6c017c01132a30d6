"""The one definition of best: which measured configuration a run found best (or, with several objectives,
picked from its Pareto front), which ones to measure again, and the message that says so.

The flows decide a run's best with ``conclude`` once, at its end, and store it; every reader (``show``,
``tune``'s exit code, the artifacts, ``history``) reads that stored best instead of ranking again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from tuning.evaluation.defaults import Measurements, versus_defaults
from tuning.evaluation.outcome import MeasuredTrial, TrialState, measured_runs, scored
from tuning.evaluation.pareto import Front, Goal, pareto_front


@dataclass(frozen=True)
class Candidate:
    """A configuration the search measured, with every measurement of it: the trial and its confirmations."""

    trial: MeasuredTrial
    scores: list[float]
    feasible: bool

    @property
    def mean(self) -> float:
        return fmean(self.scores)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.scores), max(self.scores)


def ranked_candidates(trials: Sequence[MeasuredTrial], maximize: bool) -> list[Candidate]:
    """Succeeded search trials, best mean first; feasible only if every measurement of them was."""
    ranked = []
    for trial in trials:
        if trial.confirms is not None or not scored(trial):
            continue
        runs = measured_runs(trial, trials, scored)
        scores = [float(t.score) for t in runs if t.score is not None]
        ranked.append(Candidate(trial, scores, feasible=all(t.feasible for t in runs)))
    return sorted(ranked, key=lambda c: c.mean, reverse=maximize)


def candidate(trials: Sequence[MeasuredTrial], number: int | None) -> Candidate | None:
    """Trial ``number`` with every measurement of it (a run's stored best, say); None if it did not succeed."""
    return next((c for c in ranked_candidates(trials, maximize=True) if c.trial.number == number), None)


def best_trial(trials: Sequence[MeasuredTrial], maximize: bool) -> MeasuredTrial | None:
    """The search trial whose configuration scored best on all its measurements and met every hard SLO in
    each; None when no trial qualifies. One objective only: ``conclude`` decides a run's best."""
    feasible = [c for c in ranked_candidates(trials, maximize) if c.feasible]
    return feasible[0].trial if feasible else None


def decided_best(trials: Sequence[MeasuredTrial], goal: Goal) -> MeasuredTrial | None:
    """The configuration ``conclude`` would name the run's best, without the message that says why."""
    if goal.multi:
        picked = pareto_front(trials, goal).picked
        return picked.trial if picked is not None else None
    return best_trial(trials, goal.maximize[0])


def confirmation_note(trials: Sequence[MeasuredTrial], maximize: bool) -> str | None:
    """How the confirmed leaders compare, when configurations were measured more than once."""
    confirmed = [c for c in ranked_candidates(trials, maximize) if c.feasible and len(c.scores) > 1]
    if not confirmed:
        return None
    first = confirmed[0]
    note = f"trial {first.trial.number} confirmed over {len(first.scores)} runs: {_range(first)}"
    if len(confirmed) > 1:
        second = confirmed[1]
        other = f"trial {second.trial.number} ({_range(second)})"
        note += "; " + Measurements(first.scores).compared_with(Measurements(second.scores), other)
    return note


def _range(candidate: Candidate) -> str:
    low, high = candidate.spread
    return f"mean {candidate.mean:.4g}, range {low:.4g}-{high:.4g}"


def front_confirmation_note(trials: Sequence[MeasuredTrial], front: Front) -> str | None:
    """How the picked point held up when measured again: each objective's mean and range over its runs."""
    picked = front.picked
    if picked is None or picked.measurements < 2:
        return None
    runs = [picked.trial, *(t for t in trials if t.confirms == picked.trial.number)]
    scores = [
        t.objective_scores for t in runs if t.objective_scores and len(t.objective_scores) == len(front.goal.names)
    ]
    ranges = [
        f"{name} mean {fmean(column):.4g}, range {min(column):.4g}-{max(column):.4g}"
        for name, column in zip(front.goal.names, zip(*scores, strict=True), strict=True)
    ]
    return f"trial {picked.trial.number} confirmed over {len(scores)} runs: " + "; ".join(ranges)


def leaders(trials: Sequence[MeasuredTrial], goal: Goal) -> list[MeasuredTrial]:
    """The configurations worth measuring again, most promising first.

    One objective: the feasible ones by score. Several: the Pareto front in the pick rule's order, so the picked
    point is confirmed first and then its nearest rivals under the rule (the next ones within the limits, then
    those closest to them); a point that is worse when measured again can lose its place to them.
    """
    if goal.multi:
        return [point.trial for point in pareto_front(trials, goal).points]
    return [c.trial for c in ranked_candidates(trials, goal.maximize[0]) if c.feasible]


@dataclass(frozen=True)
class SLOMiss:
    """How far one hard SLO was from being met: its worst round."""

    slo: str
    observed: float
    limit: float
    scenario: str
    concurrency: int

    @property
    def excess(self) -> float:
        """Relative to the limit; absolute for a limit of 0 (an error rate of 0)."""
        return (self.observed - self.limit) / self.limit if self.limit > 0 else self.observed - self.limit

    @property
    def excess_text(self) -> str:
        return f"{self.excess:.0%}" if self.limit > 0 else f"{self.excess:.4g}"

    def describe(self) -> str:
        return f"{self.slo} broken by {self.excess_text} ({self.observed:.4g} at {self.scenario} x{self.concurrency})"


def params_text(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


@dataclass(frozen=True)
class NearestMiss:
    """The infeasible trial whose hard SLOs were closest to being met."""

    trial: MeasuredTrial
    misses: list[SLOMiss]

    def describe(self) -> str:
        confirms = f", confirming trial {self.trial.confirms}" if self.trial.confirms is not None else ""
        return f"trial {self.trial.number} ({params_text(self.trial.params)}{confirms}): " + "; ".join(
            m.describe() for m in self.misses
        )


def nearest_miss(trials: Sequence[MeasuredTrial]) -> NearestMiss | None:
    """Among trials that were measured but broke a hard SLO, the one whose worst relative excess is smallest."""
    missed = [
        t
        for t in trials
        if t.state in (TrialState.succeeded, TrialState.pruned) and t.feasible is False and t.constraints
    ]
    if not missed:
        return None
    closest = min(missed, key=lambda t: (max(t.constraints), sum(max(c, 0.0) for c in t.constraints), t.number))
    worst: dict[str, Mapping[str, Any]] = {}
    for violation in closest.violations:
        if violation.get("hard") and violation["observed"] > worst.get(violation["slo"], {}).get("observed", -1e300):
            worst[violation["slo"]] = violation
    misses = [
        SLOMiss(
            slo=v["slo"], observed=v["observed"], limit=v["limit"], scenario=v["scenario"], concurrency=v["concurrency"]
        )
        for v in worst.values()
    ]
    return NearestMiss(closest, misses)


@dataclass(frozen=True)
class Conclusion:
    """What a run found: its best (or picked) trial, its Pareto front when it has several objectives, and a
    one-paragraph message saying so."""

    best: MeasuredTrial | None
    front: Front | None
    message: str


def conclude(trials: Sequence[MeasuredTrial], goal: Goal) -> Conclusion:
    """The run's best: with one objective, the feasible configuration with the best mean score; with several,
    the point of the Pareto front the pick rule chooses (none when no point is within its limits)."""
    succeeded = sum(t.state == TrialState.succeeded for t in trials)
    front = pareto_front(trials, goal) if goal.multi else None
    best, message = None, ""
    if front is not None and front.picked is not None:
        best = front.picked.trial
        message = (
            f"picked trial {best.number} from a Pareto front of {len(front.points)} by the rule {goal.rule}: "
            + front.values_text(front.picked)
        )
    elif front is not None and front.points:
        closest = front.points[0]
        message = (
            f"Pareto front of {len(front.points)} configuration(s), none within the pick rule {goal.rule}; "
            f"closest: trial {closest.trial.number} ({front.describe_miss(closest)})"
        )
    elif front is None and (best := best_trial(trials, goal.maximize[0])) is not None:
        message = f"best: trial {best.number} with {goal.objectives[0].label} {best.score:.6g}"
    if not message:
        message = f"{succeeded} trial(s) succeeded but none met every hard SLO"
        if (miss := nearest_miss(trials)) is not None:
            message += f"; nearest miss: {miss.describe()}"
    confirmed = front_confirmation_note(trials, front) if front else confirmation_note(trials, goal.maximize[0])
    if confirmed:
        message += f"; {confirmed}"
    if (against := versus_defaults(trials, best, goal)) is not None:
        message += f"; {against}"
    return Conclusion(best, front, message)
