"""The ``servetune`` command: validate a spec, run a tuning, and read what is stored."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tuning.search.space import SearchSpaceError, configurations, grid_size
from tuning.spec import EngineName, StrategyName, TuningSpec
from tuning.spec.loading import SpecError, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_NO_FEASIBLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def _load(path: str) -> tuple[TuningSpec, list[dict]]:
    """The spec, and the configurations it will run when they are known in advance (the grid)."""
    spec = load_spec(path)
    if spec.strategy.name is StrategyName.grid:
        return spec, configurations(spec)
    from tuning.search.optuna_space import distribution

    for name, dimension in spec.search_space.items():
        distribution(name, dimension, walk_grid=False)  # a sampler must be able to draw from every dimension
    return spec, []


def _params_text(params: dict) -> str:
    return " ".join(f"{k}={v!r}" for k, v in params.items()) or "(engine defaults)"


def cmd_validate(args: argparse.Namespace) -> int:
    from deployers import deployer_for
    from deployers.engines._flags import flag_problems

    spec, configs = _load(args.spec)
    problems, flags, note = flag_problems(spec)  # against the installed engine's own parser
    if problems:
        raise SpecError(args.spec, problems)
    print(f"{args.spec}: valid")
    engine, deployer = spec.engine.name.value, spec.deployer.kind
    print(f"run {spec.name!r}: {engine} serving {spec.model.path} via the {deployer} deployer")
    print(f"engine flags: checked against {flags.label} ({flags.python})" if flags else f"note: {note}")
    if configs:
        total = grid_size(spec)
        capped = f" (capped from {total} by strategy.max_trials)" if len(configs) < total else ""
        print(f"strategy grid: {len(configs)} configuration(s){capped}")
        for number, params in enumerate(configs):
            print(f"  trial {number}: {_params_text(params)}")
    else:
        budget = spec.strategy.budget(0)
        print(f"strategy {spec.strategy.name.value}: up to {budget} trials sampled from")
        for name, dimension in spec.search_space.items():
            shown = dimension.values if dimension.values is not None else dimension.model_dump(exclude_none=True)
            print(f"  {name}: {shown}")
    rounds = len(spec.benchmark.traffic_scenarios) * len(spec.benchmark.concurrency)
    print(
        f"benchmark: {rounds} round(s) per trial: scenarios {spec.benchmark.traffic_scenarios} "
        f"x concurrency {spec.benchmark.concurrency}, {spec.benchmark.max_requests_per_run} requests each"
    )
    direction = "maximize" if spec.objective.maximize else "minimize"
    print(f"objective: {direction} {spec.objective.label}, {spec.objective.aggregate.value} over rounds")
    for slo in spec.slos:
        print(f"slo: {slo.label} ({'hard' if slo.hard else f'soft, penalty {slo.penalty:g}'})")
    first = configs[0] if configs else None
    if first is not None:
        import shlex

        argv = deployer_for(spec).preview_command(first)
        print("first trial's engine command (port chosen at deploy time):")
        print(f"  {shlex.join(argv)}")
    return EXIT_OK


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # A worker or supervisor stops us with SIGTERM: take the same path as Ctrl-C, so cleanup runs.
    raise KeyboardInterrupt(f"signal {signum}")


_SERVER_START_SECONDS = 120


def _start_prefect_server_shielded_from_ctrl_c() -> str:
    """Start Prefect's temporary local server now, with SIGINT blocked while it is spawned.

    A terminal's Ctrl-C signals the whole foreground process group. Prefect would otherwise start its
    temporary server lazily in that group, so Ctrl-C would kill it at the very moment the run needs it to
    record the interrupted trial. A blocked signal mask is inherited across exec, so the server never sees
    that SIGINT; Prefect stops it with SIGTERM when servetune exits.
    """
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        server = SubprocessASGIServer()
        # Prefect's default (20 s) is too short on a busy 2-core machine, where the server may take a minute.
        server.start(timeout=max(_SERVER_START_SECONDS, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return server.api_url


def cmd_tune(args: argparse.Namespace) -> int:
    spec, configs = _load(args.spec)
    if args.name:
        spec = spec.model_copy(update={"name": args.name})
    from prefect.settings import PREFECT_API_URL

    from flows import NoTrialSucceeded, SpecChanged, tune
    from flows.dispatch import PoolNotReady
    from tuning.report.leaderboard import best_card, best_trial, leaderboard_rows, text_table
    from tuning.store import Store

    signal.signal(signal.SIGTERM, _raise_interrupt)
    where = PREFECT_API_URL.value()
    if not where:
        where = f"{_start_prefect_server_shielded_from_ctrl_c()} (temporary; set PREFECT_API_URL to keep runs)"
    budget = len(configs) if configs else spec.strategy.budget(0)
    print(f"servetune: tuning {spec.name!r}: up to {budget} trial(s), Prefect at {where}", flush=True)
    try:
        summary = tune(spec, fresh=args.fresh)
    except (SpecChanged, FileNotFoundError, PoolNotReady) as exc:
        print(f"servetune: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NoTrialSucceeded as exc:
        print(f"servetune: run failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("servetune: interrupted; engines stopped and the run recorded as interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    store = Store()
    run = store.find_run(summary.run_id)
    print()
    print(text_table(leaderboard_rows(store, run)))
    print()
    best = best_trial(store.trials(run.id), run.maximize)
    print(best_card(store, run, best))
    print(f"stored in {store.safe_url} as run {run.id}; see it again with: servetune show {run.id}")
    return EXIT_OK if best else EXIT_NO_FEASIBLE


def cmd_runs(args: argparse.Namespace) -> int:
    from tuning.report.leaderboard import text_table
    from tuning.store import Store

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
    print(text_table(rows) if rows else f"no runs stored in {store.safe_url}")
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from tuning.report.history import UnknownTarget, history_rows, target_history
    from tuning.report.leaderboard import text_table
    from tuning.store import Store

    store = Store()
    try:
        entries = target_history(store, args.target)
    except UnknownTarget as exc:
        print(f"servetune: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    shown = entries[-args.limit :]
    print(f"{args.target}: {len(entries)} run(s), the latest {len(shown)} shown; objective {entries[-1].objective}")
    print(text_table(history_rows(shown)))
    return EXIT_OK


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def cmd_show(args: argparse.Namespace) -> int:
    from tuning.report.leaderboard import best_card, leaderboard_rows, pareto_rows, text_table
    from tuning.store import RunNotFound, Store

    store = Store()
    try:
        run = store.find_run(args.run)
    except RunNotFound as exc:
        print(f"servetune: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"run {run.id} {run.name!r}: {run.state}; {run.engine} serving {run.model}; objective {run.objective}")
    if run.message:
        print(run.message)
    print()
    print(text_table(leaderboard_rows(store, run)))
    if front := pareto_rows(store, run):
        print("\nPareto front (* picked):")
        print(text_table(front))
    trials = store.trials(run.id)
    best = next((t for t in trials if t.number == run.best_trial), None)
    print()
    print(best_card(store, run, best))
    for t in trials:
        if t.state != "succeeded" and t.log_tail and args.logs:
            print(f"--- trial {t.number} engine log tail ({t.log_path}) ---\n{t.log_tail}\n")
    return EXIT_OK


def cmd_make_model(args: argparse.Namespace) -> int:
    from tuning.cli.tiny_model import is_tiny_model, make_tiny_llama

    out = Path(args.out).expanduser()
    if is_tiny_model(out) and not args.force:
        print(f"{out}: tiny model already present")
        return EXIT_OK
    parameters = make_tiny_llama(out, seed=args.seed)
    print(f"{out}: tiny Llama with {parameters:,} parameters (random weights, tokenizer trained offline)")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from deployers import DEPLOYERS
    from tuning.spec import ModelSpec

    spec = TuningSpec(name="sweep", model=ModelSpec(path="unused"))
    removed = DEPLOYERS["local"](spec).sweep(args.run, include_live_owners=args.run is not None)
    print("\n".join(f"removed {label}" for label in removed) or "nothing to remove")
    return EXIT_OK


def cmd_spec_docs(args: argparse.Namespace) -> int:
    from tuning.spec.docs import spec_reference

    print(spec_reference(), end="")
    return EXIT_OK


def cmd_flags(args: argparse.Namespace) -> int:
    from deployers.engines import ENGINES, FlagsUnavailable, engine_flags
    from deployers.engines._flags import default_flags_python
    from tuning.report.leaderboard import text_table

    python = args.python or default_flags_python(args.engine)
    try:
        flags = engine_flags(args.engine, python)
    except FlagsUnavailable as exc:
        hint = ENGINES[args.engine].flags_venv or ".venvs/ENV"
        print(f"servetune: cannot read {args.engine}'s flags: {exc}", file=sys.stderr)
        print(
            f"  give --python PATH, an interpreter with {args.engine} installed (e.g. {hint}/bin/python)",
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND

    def short(text: str, width: int = 60) -> str:
        return text if len(text) <= width else text[: width - 3] + "..."

    shown = [flag for flag in flags.flags if flag.tunable or not args.tunable]
    rows = [
        {
            "flag": flag.name,
            "aliases": ", ".join(a[2:] if a.startswith("--") else a for a in flag.aliases),
            "type": flag.type_text,
            "choices": short(", ".join(map(str, flag.choices))) if flag.choices else "",
            "default": "" if flag.default is None else short(json.dumps(flag.default).strip('"'), 30),
            "help": short(flag.help, 70),
        }
        for flag in sorted(shown, key=lambda f: f.name)
    ]
    which = "tunable flags" if args.tunable else "flags"
    print(
        f"{flags.label} ({flags.distribution}, {flags.python}): {len(rows)} {which}, written without dashes in a spec"
    )
    print(text_table(rows))
    return EXIT_OK


def cmd_pools_apply(args: argparse.Namespace) -> int:
    from tuning.runtime.pools import cmd_pools_apply as apply

    return apply(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servetune", description=__doc__)
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
    add("runs", cmd_runs, "list stored tuning runs").add_argument("--limit", type=int, default=20)
    history = add("history", cmd_history, "list a target's tuning runs and rechecks, each against its baseline")
    history.add_argument("target", help="the target's run name")
    history.add_argument("--limit", type=_positive_int, default=20, help="show the latest N (default: %(default)s)")
    show = add("show", cmd_show, "show a run's leaderboard and best configuration")
    show.add_argument("run", help="run id, id prefix, or name (latest run of that name)")
    show.add_argument("--logs", action="store_true", help="also print the engine log tail of failed trials")
    make_model = add("make-model", cmd_make_model, "write a tiny random-weight Llama for tests and the quickstart")
    make_model.add_argument("out", help="folder to write the model to")
    make_model.add_argument("--seed", type=int, default=0)
    make_model.add_argument("--force", action="store_true", help="rebuild even if present")
    flags = add("flags", cmd_flags, "list an engine's flags as its installed version's own parser defines them")
    flags.add_argument("engine", choices=[engine.value for engine in EngineName])
    flags.add_argument("--tunable", action="store_true", help="only numbers, switches and choices worth a trial")
    flags.add_argument("--python", help="interpreter with the engine installed (default: one under ./.venvs)")
    add("spec-docs", cmd_spec_docs, "print the spec field reference (docs/spec.md) as markdown")
    add("sweep", cmd_sweep, "stop engines left behind by crashed runs").add_argument(
        "--run", help="stop every engine of this run id, even if its owner is alive"
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
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SearchSpaceError as exc:
        print(f"{args.spec}: invalid spec\n  {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader (say `| head`) has gone; stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
