"""What a run found, as rows and markdown: shared by the Prefect artifacts and the CLI."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from tuning.evaluation.defaults import versus_defaults
from tuning.evaluation.load import CapacitySearch, LoadPlan, load_plan
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import TrialState
from tuning.evaluation.pareto import Front, Goal, dominates, pareto_front
from tuning.evaluation.ranking import confirmation_note, front_confirmation_note, nearest_miss, params_text
from tuning.spec import BenchmarkSpec, SLOSpec
from tuning.store import Store, Trial, TuningRun


class Strong(str):
    """Text to stand out: bold markdown in an artifact, bold in a terminal."""


class Code(str):
    """A name or value as typed: code in markdown, plain in a terminal."""


# A line of text in pieces, each plain, Strong or Code.
Spans = tuple[str, ...]


@dataclass(frozen=True)
class Heading:
    spans: Spans


@dataclass(frozen=True)
class Paragraph:
    spans: Spans


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Command:
    """A command to copy and run as it is."""

    text: str


@dataclass(frozen=True)
class Lines:
    """Short lines kept apart (each ends a line in markdown)."""

    lines: tuple[Spans, ...]


Block = Heading | Paragraph | Table | Command | Lines


def _markdown_spans(spans: Spans) -> str:
    return "".join(f"**{s}**" if isinstance(s, Strong) else f"`{s}`" if isinstance(s, Code) else s for s in spans)


def markdown(blocks: Sequence[Block]) -> str:
    """The blocks as markdown, for Prefect artifacts."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("# " + _markdown_spans(block.spans))
        elif isinstance(block, Paragraph):
            parts.append(_markdown_spans(block.spans))
        elif isinstance(block, Table):
            rows = [block.headers, tuple("---" for _ in block.headers), *block.rows]
            parts.append(
                "\n".join("|" + "".join(f" {_markdown_spans((c,))} |" if c else " |" for c in row) for row in rows)
            )
        elif isinstance(block, Command):
            parts.append(f"```shell\n{block.text}\n```")
        else:
            parts.append("  \n".join(_markdown_spans(line) for line in block.lines))
    return "\n\n".join(parts) + "\n"


def stored_load_plan(run: TuningRun) -> LoadPlan:
    """The load mode a run measured with, read from its stored spec section by section."""
    benchmark = BenchmarkSpec.model_validate(run.spec.get("benchmark") or {})
    return load_plan(benchmark, TypeAdapter(list[SLOSpec]).validate_python(run.spec.get("slos") or []))


def _note(trial: Trial, front: Front | None = None, broken_again: list[int] | None = None) -> str:
    """Why a trial did not count, or how it stands: shown beside it in the leaderboard.

    ``broken_again``: its confirmations that broke a hard SLO, which make the configuration infeasible."""
    notes = [f"confirms trial {trial.confirms}"] if trial.confirms is not None else []
    notes.append(note_of_state(trial))
    if broken_again:
        notes.append("infeasible when measured again: trial " + ", ".join(map(str, broken_again)))
    if front is not None and trial.confirms is None and trial.feasible:
        notes.append(_front_note(trial, front))
    return "; ".join(n for n in notes if n)


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def note_of_state(trial: Trial) -> str:
    if trial.state == TrialState.pruned:
        return trial.stopped_early or TrialState.pruned
    if trial.state == TrialState.abandoned:
        return f"abandoned: the process running it ({trial.owner}) is gone; a rerun of the name records it failed"
    if trial.state in (TrialState.repeated, TrialState.rejected):
        # Recorded by the search loop: "same configuration as trial N; ..." or "rejected: <why>".
        return _first_line(trial.error) or trial.state
    if trial.state != TrialState.succeeded:
        return ": ".join(part for part in (trial.phase, _first_line(trial.error)) if part)
    hard = [v for v in trial.violations if v.get("hard") and not v.get("beyond_capacity")]
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
    notes = []
    if trial.capacity:
        notes.append("capacity " + ", ".join(f"x{level} ({scenario})" for scenario, level in trial.capacity.items()))
    beyond = sorted({(v["scenario"], v["concurrency"]) for v in trial.violations if v.get("beyond_capacity")})
    if beyond:
        notes.append("beyond capacity: " + ", ".join(f"x{level}" for _, level in beyond))
    soft = [v for v in trial.violations if not v.get("hard")]
    if soft:
        notes.append("soft SLO missed: " + "; ".join(sorted({v["slo"] for v in soft})))
    return "; ".join(notes)


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


def _worst(rounds: Sequence[RoundMetrics], field: str) -> float | None:
    return max((getattr(r, field) for r in rounds), default=None)


def _mean(rounds: Sequence[RoundMetrics], field: str) -> float | None:
    return sum(getattr(r, field) for r in rounds) / len(rounds) if rounds else None


def _mean_known(rounds: Sequence[RoundMetrics], field: str) -> float | None:
    """The mean where the rounds have the metric (rounds stored before 0.2 have no per-request metrics)."""
    known = [value for r in rounds if (value := getattr(r, field)) is not None]
    return sum(known) / len(known) if known else None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def leaderboard_rows(store: Store, run: TuningRun) -> list[dict[str, str]]:
    """One row per trial, best first: its parameters, key metrics, score, state, and why it did not count.

    With several objectives, the Pareto front comes first and each objective has a column."""
    trials = store.trials(run.id)
    goal = Goal.of_stored_spec(run.spec)
    front = pareto_front(trials, goal) if goal.multi else None
    on_front = set(front.numbers) if front else set()
    plan = stored_load_plan(run)

    def order(t: Trial) -> tuple[int, float]:
        if front is not None and t.number in on_front and t.confirms is None:
            return 0, float(front.numbers.index(t.number))  # the front first, in the pick rule's order
        rank = 1 if t.feasible else 2 if t.state == TrialState.succeeded else 3
        return rank, (-(t.score or 0.0) if run.maximize else (t.score or 0.0))

    rows = []
    for trial in sorted(trials, key=order):
        measured = store.rounds(trial.id) if trial.id is not None else []
        # In capacity mode the metrics shown are those at the capacity, as the score reads them.
        rounds = plan.counted(measured).counted
        row = {
            "trial": str(trial.number) + (" *" if trial.number == run.best_trial else ""),
            "state": trial.state if trial.feasible is not False else "infeasible",
            "params": params_text(trial.params),
            "score": _fmt(trial.score),
        }
        if front is not None:
            values = trial.objective_scores if trial.objective_scores else []
            row |= {name: _fmt(values[i]) if i < len(values) else "" for i, name in enumerate(goal.names)}
            row["front"] = "yes" if trial.number in on_front else ""
        if isinstance(plan, CapacitySearch):
            row["capacity"] = "/".join(str(c) for c in (trial.capacity or {}).values())
        row |= {
            "out tok/s": _fmt(_mean(rounds, "output_throughput")),
            "goodput req/s": _fmt(_mean_known(rounds, "goodput")),
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
                "params": params_text(point.trial.params),
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


def _params_table(params: Mapping[str, Any]) -> Block:
    if not params:
        return Paragraph(("No searched flag set: the engine's defaults, with the spec's ", Code("engine.args"), "."))
    return Table(("parameter", "value"), tuple((Code(k), Code(str(v))) for k, v in params.items()))


def _no_best_card(run: TuningRun, trials: list[Trial], front: Front | None) -> list[Block]:
    """Why there is no best configuration, and the closest the run came."""
    if front is not None and front.points:
        closest = front.points[0]
        return [
            Heading((f"{run.name}: no configuration meets the pick rule",)),
            Paragraph(
                (
                    "Rule: ",
                    Strong(front.goal.rule),
                    f". The Pareto front has {len(front.points)} configuration(s) (see the ",
                    Code(f"{run.name}-pareto-front"),
                    " table); none is within the rule's limits.",
                )
            ),
            Paragraph(
                (
                    f"Closest: trial {closest.trial.number}: {front.describe_miss(closest)} "
                    f"({front.values_text(closest)}).",
                )
            ),
            _params_table(closest.trial.params),
        ]
    miss = nearest_miss(trials)
    if miss is None:
        why = f"No trial both succeeded and met every hard SLO. {run.message or ''}"
        return [Heading((f"{run.name}: no best configuration",)), Paragraph((why,))]
    return [
        Heading((f"{run.name}: no best configuration",)),
        Paragraph(("No trial met every hard SLO.",)),
        Paragraph(
            (
                f"Nearest miss: trial {miss.trial.number}, whose hard SLOs came closest to being met"
                + (f" ({miss.trial.stopped_early})" if miss.trial.stopped_early else "")
                + ":",
            )
        ),
        Table(
            ("hard SLO", "worst observed", "at", "over the limit by"),
            tuple((m.slo, f"{m.observed:.4g}", f"{m.scenario} x{m.concurrency}", m.excess_text) for m in miss.misses),
        ),
        _params_table(miss.trial.params),
    ]


def _headline(run: TuningRun, trial: Trial, front: Front | None) -> list[Block]:
    """The card's opening: the score, or for several objectives the rule and each objective's value."""
    if front is None:
        penalty = f" (raw {trial.objective_value:.6g}, soft-SLO penalty {trial.penalty:.3g})" if trial.penalty else ""
        return [
            Heading(("Best configuration of ", Code(run.name), f": trial {trial.number}")),
            Paragraph((Strong(run.objective), f": {trial.score:.6g}{penalty}")),
        ]
    point = next((p for p in front.points if p.trial.number == trial.number), None)
    values = point.values if point else tuple(trial.objective_scores or ())
    measured = f" (mean of {point.measurements} measurements)" if point and point.measurements > 1 else ""
    return [
        Heading(("Picked configuration of ", Code(run.name), f": trial {trial.number}")),
        Paragraph(
            (
                f"Picked from a Pareto front of {len(front.points)} configuration(s) by the rule ",
                Strong(front.goal.rule),
                ".",
            )
        ),
        Table(
            ("objective", "value"),
            tuple((o.label, f"{v:.6g}{measured}") for o, v in zip(front.goal.objectives, values, strict=False)),
        ),
    ]


def _versus_capacity(round_: RoundMetrics, capacity: Mapping[str, int]) -> str:
    level = capacity.get(round_.scenario)
    if level is None:
        return ""
    return "capacity" if round_.concurrency == level else "beyond capacity" if round_.concurrency > level else ""


def best_card_blocks(store: Store, run: TuningRun, trial: Trial | None) -> list[Block]:
    """The best (or, with several objectives, the picked) configuration: its parameters, the exact launch command
    and its rounds; without one, why not and the nearest miss. ``markdown`` and the terminal print the same blocks."""
    trials = store.trials(run.id)
    goal = Goal.of_stored_spec(run.spec)
    front = pareto_front(trials, goal) if goal.multi else None
    if trial is None:
        return _no_best_card(run, trials, front)
    rounds = store.rounds(trial.id) if trial.id is not None else []
    confirmed = front_confirmation_note(trials, front) if front else confirmation_note(trials, run.maximize)
    against = versus_defaults(trials, trial, goal)
    capacity = trial.capacity or {}
    at_capacity: Spans = ("Capacity, the highest concurrency meeting every hard SLO: ",)
    for i, (scenario, level) in enumerate(capacity.items()):
        at_capacity += (", " if i else "", Strong(str(level)), f" at {scenario}")
    at_capacity += (". Its metrics are read there.",)
    return [
        *_headline(run, trial, front),
        *([Paragraph(at_capacity)] if capacity else []),
        *([Paragraph((f"Confirmation: {confirmed}.",))] if confirmed else []),
        *([Paragraph((Strong("Baseline: "), f"{against}."))] if against else []),
        _params_table(trial.params),
        Paragraph(("Launch command (as servetune ran it):",)),
        Command(launch_command(trial)),
        Table(
            (
                "scenario",
                "concurrency",
                "out tok/s",
                "goodput req/s",
                "ttft p90 s",
                "tpot p90 s",
                "e2e p90 s",
                "error rate",
                "",
            ),
            tuple(
                (
                    r.scenario,
                    str(r.concurrency),
                    f"{r.output_throughput:.4g}",
                    _fmt(r.goodput),
                    f"{r.ttft_p90:.4g}",
                    f"{r.tpot_p90:.4g}",
                    f"{r.e2e_latency_p90:.4g}",
                    f"{r.error_rate:.2g}",
                    _versus_capacity(r, capacity),
                )
                for r in sorted(rounds, key=lambda r: (r.scenario, r.concurrency))
            ),
        ),
        Lines(
            (
                ("genai-bench results, plots and sheet: ", Code(str(trial.results_dir))),
                ("Engine log: ", Code(str(trial.log_path))),
            )
        ),
    ]


def best_card(store: Store, run: TuningRun, trial: Trial | None) -> str:
    """``best_card_blocks`` as markdown, for the run's best-configuration artifact."""
    return markdown(best_card_blocks(store, run, trial))
