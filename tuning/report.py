"""What a run found, as rows and markdown: shared by the Prefect artifacts and the CLI."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from tuning.outcome import TrialState
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


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


def _note(trial: Trial) -> str:
    if trial.confirms is not None:
        return f"confirms trial {trial.confirms}" + (f"; {_note_of_state(trial)}" if _note_of_state(trial) else "")
    return _note_of_state(trial)


def _note_of_state(trial: Trial) -> str:
    if trial.state == TrialState.pruned:
        return trial.stopped_early or "pruned"
    if trial.state != TrialState.succeeded:
        first_line = (trial.error or "").strip().splitlines()[:1]
        return f"{trial.phase or ''}: {first_line[0] if first_line else ''}".strip(": ")
    hard = [v for v in trial.violations if v.get("hard")]
    if hard:
        stopped = f" (stopped at concurrency {trial.violations[0]['concurrency']})" if trial.stopped_early else ""
        return "infeasible: " + "; ".join(sorted({v["slo"] for v in hard})) + stopped
    soft = [v for v in trial.violations if not v.get("hard")]
    return ("soft SLO missed: " + "; ".join(sorted({v["slo"] for v in soft}))) if soft else ""


def _worst(rounds: list[BenchmarkRound], field: str) -> float | None:
    return max((getattr(r, field) for r in rounds), default=None)


def _mean(rounds: list[BenchmarkRound], field: str) -> float | None:
    return sum(getattr(r, field) for r in rounds) / len(rounds) if rounds else None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def leaderboard_rows(store: Store, run: TuningRun) -> list[dict[str, str]]:
    """One row per trial, best first: its parameters, key metrics, score and state."""
    trials = store.trials(run.id)
    best = best_trial(trials, run.maximize)

    def order(t: Trial) -> tuple[int, float]:
        rank = 0 if t.feasible else 1 if t.state == TrialState.succeeded else 2
        return rank, (-(t.score or 0.0) if run.maximize else (t.score or 0.0))

    rows = []
    for trial in sorted(trials, key=order):
        rounds = store.rounds(trial.id) if trial.id is not None else []
        rows.append(
            {
                "trial": str(trial.number) + (" *" if best and trial.number == best.number else ""),
                "state": trial.state if trial.feasible is not False else "infeasible",
                "params": _params_text(trial.params),
                "score": _fmt(trial.score),
                "out tok/s": _fmt(_mean(rounds, "output_throughput")),
                "ttft p90 s": _fmt(_worst(rounds, "ttft_p90")),
                "tpot p90 s": _fmt(_worst(rounds, "tpot_p90")),
                "e2e p90 s": _fmt(_worst(rounds, "e2e_latency_p90")),
                "errors": _fmt(_worst(rounds, "error_rate"), 2),
                "note": _note(trial),
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


def best_card(store: Store, run: TuningRun, trial: Trial | None) -> str:
    """Markdown for the best configuration: its parameters, the exact launch command and its rounds."""
    if trial is None:
        return (
            f"# {run.name}: no best configuration\n\n"
            f"No trial both succeeded and met every hard SLO. {run.message or ''}\n"
        )
    rounds = store.rounds(trial.id) if trial.id is not None else []
    confirmed = confirmation_note(store.trials(run.id), run.maximize)
    lines = [
        f"# Best configuration of `{run.name}`: trial {trial.number}",
        "",
        f"**{run.objective}**: {trial.score:.6g}"
        + (f" (raw {trial.objective_value:.6g}, soft-SLO penalty {trial.penalty:.3g})" if trial.penalty else ""),
        "",
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
