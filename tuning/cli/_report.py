"""``servetune report``: a run as one self-contained HTML file to share."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tuning.errors import ExitCode, UserInputError
from tuning.spec import EngineSpec
from tuning.store import Store, TuningRun

if TYPE_CHECKING:
    from tuning.report.plots import GPUCount


def engine_gpu_count(run: TuningRun) -> GPUCount | None:
    """How many GPUs a configuration of the run occupies, as its engine counts them; None when the stored engine
    section no longer reads as today's."""
    from deployers.engines import engine_adapter

    try:
        return engine_adapter(EngineSpec.model_validate(run.spec.get("engine") or {})).gpu_count
    except ValidationError:
        return None


def cmd_report(args: argparse.Namespace) -> int:
    from tuning.report.html_report import default_report_path, write_report

    store = Store()
    run = store.find_run(args.run)  # an unknown run: NotFound, naming it, as `show` says it
    target = Path(args.output) if args.output else default_report_path(run)
    try:
        written = write_report(store, run, target, gpus=engine_gpu_count(run))
    except OSError as exc:
        option = f"-o {args.output}" if args.output else "the run's folder"
        raise UserInputError(
            f"{option}: cannot write the report to {target}: {exc.strerror or exc}; give -o a file in a folder you "
            "can write to"
        ) from exc
    print(written.absolute())
    return ExitCode.ok
