"""Export a stored tuning run as a response surface (the CSV format of ``benchmarks.surfaces.surface``).

    python -m benchmarks.surfaces.record RUN OUT.csv

``RUN`` is a run's id, id prefix or name (the latest run of that name), looked up in servetune's store:
``SERVETUNE_DATABASE_URL``, else the SQLite file under ``SERVETUNE_HOME``. Which trials become rows:

- each configuration once, from its first trial that was benchmarked (succeeded or pruned), else from its last
  failed one; confirmation runs and repeats are never rows of their own;
- trials still running or interrupted measured nothing, and are left out (and counted on stderr).

Unless ``OUT.yaml`` exists, the run's stored spec is written there, so the surface carries its search space,
benchmark, objective and SLOs. An existing ``OUT.yaml`` is kept; a warning says if it describes another
search space, benchmark or objective than the run did.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from benchmarks.surfaces.surface import Measurement, config_key, write_surface
from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import TrialState
from tuning.evaluation.pareto import Goal
from tuning.store import RunNotFound, Store, Trial, TuningRun

# A spec section that decides what the surface's numbers mean: a kept spec file must agree on these.
_MEANING = ("search_space", "benchmark")
_NOT_MEASURED = {TrialState.running, TrialState.interrupted}


class ExportError(RuntimeError):
    pass


def _measurement(store: Store, trial: Trial) -> Measurement:
    state = TrialState(trial.state)
    if state in (TrialState.succeeded, TrialState.pruned):
        assert trial.id is not None
        rounds: dict[tuple[str, int], RoundMetrics] = {(r.scenario, r.concurrency): r for r in store.rounds(trial.id)}
        return Measurement(trial=trial.number, params=trial.params, state=state, rounds=rounds)
    lines = (trial.error or "").strip().splitlines()
    error = lines[0] if lines else "no error recorded"
    if state is not TrialState.failed and not error.startswith(f"{state.value}:"):
        error = f"{state.value}: {error}"
    return Measurement(trial=trial.number, params=trial.params, state=TrialState.failed, error=error)


def surface_of_run(store: Store, run: TuningRun) -> tuple[list[str], list[Measurement], dict[str, int]]:
    """The run's parameters, one measurement per configuration (in trial order), and what was left out."""
    chosen: dict[str, Measurement] = {}
    left_out: Counter[str] = Counter()
    for trial in store.trials(run.id):
        if trial.confirms is not None or trial.state == TrialState.repeated:
            left_out["confirmation or repeat"] += 1
            continue
        if trial.state in _NOT_MEASURED:
            left_out[trial.state] += 1
            continue
        key = config_key(trial.params)
        earlier = chosen.get(key)
        if earlier is not None and earlier.benchmarked:
            left_out["configuration measured earlier"] += 1
            continue
        chosen[key] = _measurement(store, trial)
    parameters = list(run.spec.get("search_space", {}))
    for measurement in chosen.values():
        parameters += [p for p in measurement.params if p not in parameters]
    for measurement in chosen.values():
        if missing := [p for p in parameters if p not in measurement.params]:
            raise ExportError(f"trial {measurement.trial} has no value for {missing}; a surface needs every one")
    return parameters, sorted(chosen.values(), key=lambda m: m.trial), left_out


def _check_kept_spec(path: Path, recorded: dict[str, Any]) -> str | None:
    from tuning.spec.loading import load_spec

    kept = load_spec(path).model_dump(mode="json")
    differing = [section for section in _MEANING if kept.get(section) != recorded.get(section)]
    # A spec stored by an earlier release names a single objective as `objective`.
    if Goal.of_stored_spec(kept).objectives != Goal.of_stored_spec(recorded).objectives:
        differing.append("objectives")
    if differing:
        return f"warning: {path} differs from the run's recorded spec in {', '.join(differing)}"
    return None


def export(store: Store, ref: str, out: Path) -> str:
    """Write the run's surface to ``out`` (and its spec beside it); returns a one-line summary."""
    run = store.find_run(ref)
    parameters, measurements, left_out = surface_of_run(store, run)
    if not measurements:
        raise ExportError(f"run {run.id} ({run.name}) has no finished trial to export")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        rows = write_surface(handle, parameters, measurements)
    notes = []
    spec_path = out.with_suffix(".yaml")
    if spec_path.exists():
        if warning := _check_kept_spec(spec_path, run.spec):
            notes.append(warning)
    else:
        text = f"# The spec run {run.id} ({run.name}) recorded this surface with, as stored.\n"
        spec_path.write_text(text + yaml.safe_dump(run.spec, sort_keys=False), encoding="utf-8")
    failed = sum(not m.benchmarked for m in measurements)
    summary = (
        f"{out}: {len(measurements)} configurations ({failed} failed), {rows} rows, from run {run.id} "
        f"({run.name}, {run.state})"
    )
    if left_out:
        summary += "; left out: " + ", ".join(f"{count} {why}" for why, count in sorted(left_out.items()))
    return "\n".join([summary, *notes])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.surfaces.record", description=__doc__.split("\n")[0])
    parser.add_argument("run", help="run id, id prefix, or name (the latest run of that name)")
    parser.add_argument("out", type=Path, help="CSV file to write")
    args = parser.parse_args(argv)
    try:
        print(export(Store(), args.run, args.out))
    except (RunNotFound, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
