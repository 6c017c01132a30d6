"""What a run found, as rows and markdown: shared by the Prefect artifacts and the CLI."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from tuning.evaluation.outcome import TrialState
from tuning.evaluation.pareto import Front, Goal, dominates, pareto_front
from tuning.store import BenchmarkRound, Store, Trial, TuningRun


@dataclass(frozen=True)
class Candidate:
    """A configuration the search measured, with every measurement of it: the trial and its confirmations."""

    trial: Trial
    scores: list[float]
    feasible: bool

    @property
    def mean(self) -> float:
        return fmean(self.scores)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.scores), max(self.scores)


def _succeeded(trial: Trial) -> bool:
    return trial.state == TrialState.succeeded and trial.score is not None


def ranked_candidates(trials: list[Trial], maximize: bool) -> list[Candidate]:
    """Succeeded search trials, best mean first; feasible only if every measurement of them was."""
    ranked = []
    for trial in trials:
        if trial.confirms is not None or not _succeeded(trial):
            continue
        runs = [trial] + [t for t in trials if t.confirms == trial.number and _succeeded(t)]
        scores = [float(t.score) for t in runs if t.score is not None]
        ranked.append(Candidate(trial, scores, feasible=all(t.feasible for t in runs)))
    return sorted(ranked, key=lambda c: c.mean, reverse=maximize)


def best_trial(trials: list[Trial], maximize: bool) -> Trial | None:
    """The search trial whose configuration scored best on all its measurements and met every hard SLO in
    each; None when no trial qualifies."""
    feasible = [c for c in ranked_candidates(trials, maximize) if c.feasible]
    return feasible[0].trial if feasible else None


def confirmation_note(trials: list[Trial], maximize: bool) -> str | None:
    """How the confirmed leaders compare, when configurations were measured more than once."""
    confirmed = [c for c in ranked_candidates(trials, maximize) if c.feasible and len(c.scores) > 1]
    if not confirmed:
        return None
    first = confirmed[0]
    note = f"trial {first.trial.number} confirmed over {len(first.scores)} runs: {_range(first)}"
    if len(confirmed) > 1:
        second = confirmed[1]
        overlap = first.spread[0] <= second.spread[1] and second.spread[0] <= first.spread[1]
        if overlap:
            note += (
                f"; it cannot be told apart from trial {second.trial.number} ({_range(second)}): their "
                "measurements overlap"
            )
        else:
            note += f"; ahead of trial {second.trial.number} ({_range(second)}) on every measurement"
    return note


def _range(candidate: Candidate) -> str:
    low, high = candidate.spread
    return f"mean {candidate.mean:.4g}, range {low:.4g}-{high:.4g}"


def _front_confirmation_note(trials: list[Trial], front: Front) -> str | None:
    """How the picked point held up when measured again: each objective's mean and range over its runs."""
    picked = front.picked
    if picked is None or picked.measurements < 2:
        return None
    runs = [picked.trial] + [t for t in trials if t.confirms == picked.trial.number]
    scores = [
        t.objective_scores for t in runs if t.objective_scores and len(t.objective_scores) == len(front.goal.names)
    ]
    ranges = [
        f"{name} mean {fmean(column):.4g}, range {min(column):.4g}-{max(column):.4g}"
        for name, column in zip(front.goal.names, zip(*scores, strict=True), strict=True)
    ]
    return f"trial {picked.trial.number} confirmed over {len(scores)} runs: " + "; ".join(ranges)


def leaders(trials: list[Trial], goal: Goal) -> list[Trial]:
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


@dataclass(frozen=True)
class NearestMiss:
    """The infeasible trial whose hard SLOs were closest to being met."""

    trial: Trial
    misses: list[SLOMiss]

    def describe(self) -> str:
        confirms = f", confirming trial {self.trial.confirms}" if self.trial.confirms is not None else ""
        return f"trial {self.trial.number} ({_params_text(self.trial.params)}{confirms}): " + "; ".join(
            m.describe() for m in self.misses
        )


def nearest_miss(trials: list[Trial]) -> NearestMiss | None:
    """Among trials that were measured but broke a hard SLO, the one whose worst relative excess is smallest."""
    missed = [
        t
        for t in trials
        if t.state in (TrialState.succeeded, TrialState.pruned) and t.feasible is False and t.constraints
    ]
    if not missed:
        return None
    closest = min(missed, key=lambda t: (max(t.constraints), sum(max(c, 0.0) for c in t.constraints), t.number))
    worst: dict[str, dict[str, Any]] = {}
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

    best: Trial | None
    front: Front | None
    message: str


def conclude(trials: list[Trial], goal: Goal) -> Conclusion:
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
    confirmed = _front_confirmation_note(trials, front) if front else confirmation_note(trials, goal.maximize[0])
    if confirmed:
        message += f"; {confirmed}"
    return Conclusion(best, front, message)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


def _note(trial: Trial, front: Front | None = None, broken_again: list[int] | None = None) -> str:
    """Why a trial did not count, or how it stands: shown beside it in the leaderboard.

    ``broken_again``: its confirmations that broke a hard SLO, which make the configuration infeasible."""
    notes = [f"confirms trial {trial.confirms}"] if trial.confirms is not None else []
    notes.append(_note_of_state(trial))
    if broken_again:
        notes.append("infeasible when measured again: trial " + ", ".join(map(str, broken_again)))
    if front is not None and trial.confirms is None and trial.feasible:
        notes.append(_front_note(trial, front))
    return "; ".join(n for n in notes if n)


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _note_of_state(trial: Trial) -> str:
    if trial.state == TrialState.pruned:
        return trial.stopped_early or "pruned"
    if trial.state in (TrialState.repeated, TrialState.rejected):
        # Recorded by the search loop: "same configuration as trial N; ..." or "rejected: <why>".
        return _first_line(trial.error) or trial.state
    if trial.state != TrialState.succeeded:
        return ": ".join(part for part in (trial.phase, _first_line(trial.error)) if part)
    hard = [v for v in trial.violations if v.get("hard")]
    if hard:
        first: dict[str, dict[str, Any]] = {}
        for violation in sorted(hard, key=lambda v: (v["concurrency"], v["scenario"])):
            first.setdefault(violation["slo"], violation)
        broken = [
            f"{slo} at {v['scenario']} x{v['concurrency']}: {v['observed']:.4g} > {v['limit']:g}"
            for slo, v in sorted(first.items())
        ]
        # The recorded reason reads "stopped at concurrency N: ..."; its first clause is what is new here.
        stopped = f"; {trial.stopped_early.split(':')[0]}" if trial.stopped_early else ""
        return "infeasible: " + "; ".join(broken) + stopped
    soft = [v for v in trial.violations if not v.get("hard")]
    return ("soft SLO missed: " + "; ".join(sorted({v["slo"] for v in soft}))) if soft else ""


def _front_note(trial: Trial, front: Front) -> str:
    point = next((p for p in front.points if p.trial.number == trial.number), None)
    if point is None:
        own = trial.objective_scores or []
        dominating = [
            p.trial.number
            for p in front.points
            if len(own) == len(p.values) and dominates(p.values, own, front.goal.maximize)
        ]
        return f"dominated by trial {dominating[0]}" if dominating else "not on the Pareto front"
    if point is front.picked:
        return f"picked: {front.goal.rule}"
    missed = front.describe_miss(point)
    return f"on the Pareto front; outside the pick rule: {missed}" if missed else "on the Pareto front"


def _worst(rounds: list[BenchmarkRound], field: str) -> float | None:
    return max((getattr(r, field) for r in rounds), default=None)


def _mean(rounds: list[BenchmarkRound], field: str) -> float | None:
    return sum(getattr(r, field) for r in rounds) / len(rounds) if rounds else None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def leaderboard_rows(store: Store, run: TuningRun) -> list[dict[str, str]]:
    """One row per trial, best first: its parameters, key metrics, score, state, and why it did not count.

    With several objectives, the Pareto front comes first and each objective has a column."""
    trials = store.trials(run.id)
    goal = Goal.of_stored_spec(run.spec)
    conclusion = conclude(trials, goal)
    best, front = conclusion.best, conclusion.front
    on_front = set(front.numbers) if front else set()

    def order(t: Trial) -> tuple[int, float]:
        if front is not None and t.number in on_front and t.confirms is None:
            return 0, float(front.numbers.index(t.number))  # the front first, in the pick rule's order
        rank = 1 if t.feasible else 2 if t.state == TrialState.succeeded else 3
        return rank, (-(t.score or 0.0) if run.maximize else (t.score or 0.0))

    rows = []
    for trial in sorted(trials, key=order):
        rounds = store.rounds(trial.id) if trial.id is not None else []
        row = {
            "trial": str(trial.number) + (" *" if best and trial.number == best.number else ""),
            "state": trial.state if trial.feasible is not False else "infeasible",
            "params": _params_text(trial.params),
            "score": _fmt(trial.score),
        }
        if front is not None:
            values = trial.objective_scores if trial.objective_scores else []
            row |= {name: _fmt(values[i]) if i < len(values) else "" for i, name in enumerate(goal.names)}
            row["front"] = "yes" if trial.number in on_front else ""
        row |= {
            "out tok/s": _fmt(_mean(rounds, "output_throughput")),
            "ttft p90 s": _fmt(_worst(rounds, "ttft_p90")),
            "tpot p90 s": _fmt(_worst(rounds, "tpot_p90")),
            "e2e p90 s": _fmt(_worst(rounds, "e2e_latency_p90")),
            "errors": _fmt(_worst(rounds, "error_rate"), 2),
            "note": _note(
                trial, front, [t.number for t in trials if t.confirms == trial.number and t.feasible is False]
            ),
        }
        rows.append(row)
    return rows


def pareto_rows(store: Store, run: TuningRun) -> list[dict[str, str]]:
    """The Pareto front of a run with several objectives, in the pick rule's order (empty for one objective):
    each point's parameters, each objective's mean over its measurements, and how the rule sees it."""
    goal = Goal.of_stored_spec(run.spec)
    if not goal.multi:
        return []
    front = pareto_front(store.trials(run.id), goal)
    rows = []
    for point in front.points:
        missed = front.describe_miss(point)
        rows.append(
            {
                "trial": str(point.trial.number) + (" *" if point is front.picked else ""),
                "params": _params_text(point.trial.params),
                **{name: _fmt(value) for name, value in zip(goal.names, point.values, strict=True)},
                "measurements": str(point.measurements),
                "feasible": "yes",
                "pick rule": "picked" if point is front.picked else f"outside: {missed}" if missed else "within",
            }
        )
    return rows


def text_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no trials)"
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(r[h]) for r in rows)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers)]
    lines.append("  ".join("-" * widths[h] for h in headers))
    lines += ["  ".join(r[h].ljust(widths[h]) for h in headers) for r in rows]
    return "\n".join(lines)


def launch_command(trial: Trial) -> str:
    return shlex.join(trial.command)


def _params_table(params: dict[str, Any]) -> list[str]:
    return ["| parameter | value |", "| --- | --- |", *[f"| `{k}` | `{v}` |" for k, v in params.items()]]


def _no_best_card(run: TuningRun, trials: list[Trial], front: Front | None) -> str:
    """Why there is no best configuration, and the closest the run came."""
    if front is not None and front.points:
        closest = front.points[0]
        lines = [
            f"# {run.name}: no configuration meets the pick rule",
            "",
            f"Rule: **{front.goal.rule}**. The Pareto front has {len(front.points)} configuration(s) (see the "
            f"`{run.name}-pareto-front` table); none is within the rule's limits.",
            "",
            f"Closest: trial {closest.trial.number}: {front.describe_miss(closest)} ({front.values_text(closest)}).",
            "",
            *_params_table(closest.trial.params),
        ]
        return "\n".join(lines) + "\n"
    miss = nearest_miss(trials)
    if miss is None:
        why = f"No trial both succeeded and met every hard SLO. {run.message or ''}"
        return f"# {run.name}: no best configuration\n\n{why}\n"
    lines = [
        f"# {run.name}: no best configuration",
        "",
        "No trial met every hard SLO.",
        "",
        f"Nearest miss: trial {miss.trial.number}, whose hard SLOs came closest to being met"
        + (f" ({miss.trial.stopped_early})" if miss.trial.stopped_early else "")
        + ":",
        "",
        "| hard SLO | worst observed | at | over the limit by |",
        "| --- | --- | --- | --- |",
        *[f"| {m.slo} | {m.observed:.4g} | {m.scenario} x{m.concurrency} | {m.excess_text} |" for m in miss.misses],
        "",
        *_params_table(miss.trial.params),
    ]
    return "\n".join(lines) + "\n"


def _headline(run: TuningRun, trial: Trial, front: Front | None) -> list[str]:
    """The card's opening: the score, or for several objectives the rule and each objective's value."""
    if front is None:
        penalty = f" (raw {trial.objective_value:.6g}, soft-SLO penalty {trial.penalty:.3g})" if trial.penalty else ""
        return [
            f"# Best configuration of `{run.name}`: trial {trial.number}",
            "",
            f"**{run.objective}**: {trial.score:.6g}{penalty}",
            "",
        ]
    point = next((p for p in front.points if p.trial.number == trial.number), None)
    values = point.values if point else tuple(trial.objective_scores or ())
    measured = f" (mean of {point.measurements} measurements)" if point and point.measurements > 1 else ""
    return [
        f"# Picked configuration of `{run.name}`: trial {trial.number}",
        "",
        f"Picked from a Pareto front of {len(front.points)} configuration(s) by the rule **{front.goal.rule}**.",
        "",
        "| objective | value |",
        "| --- | --- |",
        *[f"| {o.label} | {v:.6g}{measured} |" for o, v in zip(front.goal.objectives, values, strict=False)],
        "",
    ]


def best_card(store: Store, run: TuningRun, trial: Trial | None) -> str:
    """Markdown for the best (or, with several objectives, the picked) configuration: its parameters, the exact
    launch command and its rounds; without one, why not and the nearest miss."""
    trials = store.trials(run.id)
    goal = Goal.of_stored_spec(run.spec)
    front = pareto_front(trials, goal) if goal.multi else None
    if trial is None:
        return _no_best_card(run, trials, front)
    rounds = store.rounds(trial.id) if trial.id is not None else []
    confirmed = _front_confirmation_note(trials, front) if front else confirmation_note(trials, run.maximize)
    lines = [
        *_headline(run, trial, front),
        *([f"Confirmation: {confirmed}.", ""] if confirmed else []),
        "| parameter | value |",
        "| --- | --- |",
        *[f"| `{k}` | `{v}` |" for k, v in trial.params.items()],
        "",
        "Launch command (as servetune ran it):",
        "",
        "```shell",
        launch_command(trial),
        "```",
        "",
        "| scenario | concurrency | out tok/s | ttft p90 s | tpot p90 s | e2e p90 s | error rate |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {r.scenario} | {r.concurrency} | {r.output_throughput:.4g} | {r.ttft_p90:.4g} | "
            f"{r.tpot_p90:.4g} | {r.e2e_latency_p90:.4g} | {r.error_rate:.2g} |"
            for r in rounds
        ],
        "",
        f"genai-bench results, plots and sheet: `{trial.results_dir}`  ",
        f"Engine log: `{trial.log_path}`",
    ]
    return "\n".join(lines) + "\n"
