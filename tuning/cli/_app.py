"""The ``servetune`` command: validate a spec, run a tuning, and read what is stored.

Each command is a function of its parsed arguments that returns an exit code. A user's error is a
``ServetuneError``; ``main`` prints its message, without a traceback, and exits with its code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from tuning.cli._dashboard import cmd_dashboard
from tuning.cli._engines import cmd_flags, cmd_make_model, cmd_spec_docs
from tuning.cli._ops import cmd_pools_apply, cmd_sweep
from tuning.cli._presets import cmd_presets
from tuning.cli._read import cmd_history, cmd_runs, cmd_show
from tuning.cli._report import cmd_report
from tuning.cli._tune import cmd_tune
from tuning.cli._validate import cmd_validate
from tuning.errors import ExitCode, ServetuneError
from tuning.runtime.run_logs import attach_to_prefect
from tuning.spec import EngineName
from tuning.spec.loading import InvalidFile


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


# `tune`, `show` and `history` cut long reasons to fit the terminal; --wide prints them whole.
_WIDE = ("--wide",)
_WIDE_OPTIONS: dict[str, Any] = {"action": "store_true", "help": "print reasons whole, not cut to the terminal's width"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servetune", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    add("validate", cmd_validate, "check a spec and print the configurations it would run").add_argument(
        "spec", help="spec file (YAML or JSON)"
    )
    tune_cmd = add("tune", cmd_tune, "run the tuning flow on a spec")
    tune_cmd.add_argument("spec", help="spec file (YAML or JSON)")
    tune_cmd.add_argument("--name", help="run name, overriding the spec's")
    tune_cmd.add_argument(
        "--fresh", action="store_true", help="start a new run even if a run of this name did not complete"
    )
    tune_cmd.add_argument(*_WIDE, **_WIDE_OPTIONS)
    add("runs", cmd_runs, "list stored tuning runs").add_argument("--limit", type=int, default=20)
    history = add("history", cmd_history, "list a target's tuning runs and rechecks, each against its baseline")
    history.add_argument("target", help="the target's run name")
    history.add_argument("--limit", type=_positive_int, default=20, help="show the latest N (default: %(default)s)")
    history.add_argument(*_WIDE, **_WIDE_OPTIONS)
    show = add("show", cmd_show, "show a run's leaderboard and best configuration")
    show.add_argument("run", help="run id, id prefix, or name (latest run of that name)")
    show.add_argument("--logs", action="store_true", help="also print the engine log tail of failed trials")
    show.add_argument(*_WIDE, **_WIDE_OPTIONS)
    show.add_argument(
        "--json",
        action="store_true",
        help="print the run, its trials and every round as JSON (docs/results-json.md), for scripts and CI",
    )
    dashboard = add("dashboard", cmd_dashboard, "open a run's Optuna study in optuna-dashboard (the dashboard extra)")
    dashboard.add_argument("run", nargs="?", help="run id, id prefix, or name; default: every study in the database")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    dashboard.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default: %(default)s)")
    report = add("report", cmd_report, "write a run's report as one self-contained HTML file, to share or archive")
    report.add_argument("run", help="run id, id prefix, or name (latest run of that name)")
    report.add_argument(
        "-o", "--output", metavar="FILE", help="where to write it (default: report.html in the run's folder)"
    )
    make_model = add("make-model", cmd_make_model, "write a tiny random-weight Llama for tests and the quickstart")
    make_model.add_argument("out", help="folder to write the model to")
    make_model.add_argument("--seed", type=int, default=0)
    make_model.add_argument("--force", action="store_true", help="rebuild even if present")
    flags = add("flags", cmd_flags, "list an engine's flags as its installed version's own parser defines them")
    flags.add_argument("engine", choices=[engine.value for engine in EngineName])
    flags.add_argument("--tunable", action="store_true", help="only numbers, switches and choices worth a trial")
    flags.add_argument("--python", help="interpreter with the engine installed (default: one under ./.venvs)")
    presets = add("presets", cmd_presets, "list the named search spaces a spec's search_space.preset may use")
    engines = [engine.value for engine in EngineName]
    presets.add_argument("engine", nargs="?", choices=engines, help="only this engine's")
    add("spec-docs", cmd_spec_docs, "print the spec field reference (docs/spec.md) as markdown")
    sweep = add("sweep", cmd_sweep, "stop engines and containers left behind by crashed runs, of every deployer kind")
    sweep.add_argument("spec", nargs="?", help="a spec whose deployer section says where its engines run")
    sweep.add_argument("--run", help="stop every engine of this run id, even if its owner is alive")
    sweep.add_argument(
        "--kind",
        action="append",
        help="only this deployer kind: local, docker or ome (repeatable); default: all, skipping any that cannot "
        "be reached",
    )
    pools = sub.add_parser("pools", help="work pools and GPU slots on the Prefect server (docs/work-pools.md)")
    pools_sub = pools.add_subparsers(dest="pools_command", required=True)
    pools_apply = pools_sub.add_parser(
        "apply", help="create or update the work pools and GPU slot limits of a pools file (idempotent)"
    )
    pools_apply.add_argument("file", nargs="?", default="infra/pools.yaml", help="pools file (default: %(default)s)")
    pools_apply.set_defaults(handler=cmd_pools_apply)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # Machines that tune engines are often offline; Prefect's server would log a failed telemetry call.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    attach_to_prefect()  # before any command imports Prefect, which reads its logging settings once
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ServetuneError as exc:
        # A bad file's message starts with the file's name; any other says it is servetune's.
        print(exc if isinstance(exc, InvalidFile) else f"servetune: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("servetune: interrupted", file=sys.stderr)
        return ExitCode.interrupted
    except BrokenPipeError:
        # The reader (say `| head`) has gone; stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.ok
