"""``servetune runs``, ``show`` and ``history``: what the store holds, as tables and the best configuration."""

from __future__ import annotations

import argparse

from tuning.errors import ExitCode
from tuning.evaluation.outcome import RunState, TrialState
from tuning.store import Store, Trial, TuningRun


def stored_best(store: Store, run: TuningRun) -> Trial | None:
    """The trial the run concluded was best (with several objectives, the one its pick rule chose); None when
    none qualified. Every command that names a run's best names this one."""
    if run.best_trial is None:
        return None
    return next((t for t in store.trials(run.id) if t.number == run.best_trial), None)


def cmd_runs(args: argparse.Namespace) -> int:
    from tuning.report.terminal import console, print_rows

    store = Store()
    rows = [
        {
            "run": r.id,
            "name": r.name,
            "kind": r.kind,
            "state": r.state,
            "started": f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else "",
            "trials": str(len(store.trials(r.id))),
            "best": "" if r.best_trial is None else str(r.best_trial),
            "objective": r.objective,
        }
        for r in store.runs(args.limit)
    ]
    if rows:
        print_rows(console(), rows)
    else:
        print(f"no runs stored in {store.safe_url}")
    return ExitCode.ok


def cmd_show(args: argparse.Namespace) -> int:
    from tuning.report.leaderboard import best_card_blocks, leaderboard_rows, pareto_rows
    from tuning.report.terminal import console, print_blocks, print_rows

    store = Store()
    run = store.find_run(args.run)
    if args.json:
        from tuning.report.export import run_export

        print(run_export(store, run).model_dump_json(indent=2))
        return ExitCode.ok
    print(f"run {run.id} {run.name!r}: {run.state}; {run.engine} serving {run.model}; objective {run.objective}")
    if run.state == RunState.abandoned:
        print(f"the process running it ({run.owner}) is gone; `servetune tune` with the same name resumes it")
    elif run.state == RunState.running and run.owner:
        print(f"running in process {run.owner}")
    if run.message:
        print(run.message)
    print()
    out = console(args.wide)
    print_rows(out, leaderboard_rows(store, run), args.wide)
    if front := pareto_rows(store, run):
        print("\nPareto front (★ picked):")
        print_rows(out, front, args.wide)
    print()
    print_blocks(out, best_card_blocks(store, run, stored_best(store, run)))
    if args.logs:
        for t in store.trials(run.id):
            if t.state != TrialState.succeeded and t.log_tail:
                print(f"--- trial {t.number} engine log tail ({t.log_path}) ---\n{t.log_tail}\n")
    return ExitCode.ok


def cmd_history(args: argparse.Namespace) -> int:
    from tuning.report.history import history_rows, target_history
    from tuning.report.terminal import console, print_rows

    entries = target_history(Store(), args.target)
    shown = entries[-args.limit :]
    print(f"{args.target}: {len(entries)} run(s), the latest {len(shown)} shown; objective {entries[-1].objective}")
    print_rows(console(args.wide), history_rows(shown), args.wide)
    return ExitCode.ok
