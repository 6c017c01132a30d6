"""What a run found, as rows and markdown: shared by the Prefect artifacts and the CLI."""

from __future__ import annotations

import shlex
from typing import Any

from tuning.outcome import TrialState
from tuning.store import BenchmarkRound, Store, Trial, TuningRun


def best_trial(trials: list[Trial], maximize: bool) -> Trial | None:
    """The best succeeded, feasible trial; None when no trial qualifies."""
    candidates = [t for t in trials if t.state == TrialState.succeeded and t.feasible and t.score is not None]
    if not candidates:
        return None
    pick = max if maximize else min
    return pick(candidates, key=lambda t: t.score)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


def _note(trial: Trial) -> str:
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
    lines = [
        f"# Best configuration of `{run.name}`: trial {trial.number}",
        "",
        f"**{run.objective}**: {trial.score:.6g}"
        + (f" (raw {trial.objective_value:.6g}, soft-SLO penalty {trial.penalty:.3g})" if trial.penalty else ""),
        "",
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
