"""How much of each trial is spent outside starting the engine and sending requests.

    python -m benchmarks.overhead RUN

``RUN`` is a run id, id prefix or name, in servetune's store (``SERVETUNE_DATABASE_URL``, else the SQLite file
under ``SERVETUNE_HOME``). For each trial that measured something it prints the time of each phase, the requests'
own time (the sum of its rounds' ``duration``) and the overhead ratio: wall time / (ready + request time). The
median ratio over the run's trials is the last line. It reads what ``servetune show RUN --json`` prints.
"""

from __future__ import annotations

import argparse
import statistics

from tuning.report.export import RunExport, request_seconds, run_export
from tuning.report.leaderboard import text_table
from tuning.store import Store

_PHASES = ("deploy", "ready", "benchmark", "cleanup", "total")


def overhead_rows(export: RunExport) -> list[dict[str, str]]:
    rows = []
    for trial in export.trials:
        if trial.overhead is None:
            continue
        row = trial.model_extra or {}  # the trial's stored columns
        rows.append(
            {"trial": str(row["number"])}
            | {f"{phase} s": f"{row[f'{phase}_seconds'] or 0:.1f}" for phase in _PHASES}
            | {
                "requests s": f"{request_seconds(trial.rounds):.1f}",
                "rounds": str(len(trial.rounds)),
                "overhead": f"{trial.overhead:.2f}",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("run", help="run id, id prefix, or name (the latest run of that name)")
    args = parser.parse_args(argv)
    store = Store()
    export = run_export(store, store.find_run(args.run))
    rows = overhead_rows(export)
    if not rows:
        print(f"run {export.run['id']}: no trial measured anything")
        return 1
    print(text_table(rows))
    ratios = [t.overhead for t in export.trials if t.overhead is not None]
    print(f"median overhead over {len(ratios)} trials: {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
