"""``servetune tune``: run the ``tune`` flow on a spec, then print its leaderboard and best configuration."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from tuning.cli._read import stored_best
from tuning.cli._validate import load
from tuning.errors import ExitCode, UserInputError

_SERVER_START_SECONDS = 120


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # A worker or supervisor stops us with SIGTERM: take the same path as Ctrl-C, so cleanup runs.
    raise KeyboardInterrupt(f"signal {signum}")


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
    return str(server.api_url)


def cmd_tune(args: argparse.Namespace) -> int:
    """0 with a best configuration, 4 when trials ran and none qualified; the flow's own errors (every trial
    failed, the spec changed under a run's name, another live process tuning the name, a pool not deployed) reach
    ``main`` with their exit codes."""
    spec, configs = load(args.spec)
    if args.name:
        spec = spec.model_copy(update={"name": args.name})
    from prefect.settings import PREFECT_API_URL

    from flows import PrefectUnreachable, tune, unreachable
    from tuning.report.leaderboard import best_card_blocks, leaderboard_rows
    from tuning.report.terminal import console, print_blocks, print_rows
    from tuning.store import Store

    # Refused here without a flow run when another live process tunes the name; the flow's claim settles races.
    Store().refuse_if_owned(spec.name)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    where = PREFECT_API_URL.value()
    if not where:
        where = f"{_start_prefect_server_shielded_from_ctrl_c()} (temporary; set PREFECT_API_URL to keep runs)"
    budget = len(configs) if configs else spec.strategy.budget(0)
    print(f"servetune: tuning {spec.name!r}: up to {budget} trial(s), Prefect at {where}", flush=True)
    try:
        summary = tune(spec, fresh=args.fresh)
    except FileNotFoundError as exc:  # the model or engine environment the spec names
        raise UserInputError(str(exc)) from None
    except KeyboardInterrupt:
        print("servetune: interrupted; engines stopped and the run recorded as interrupted", file=sys.stderr)
        return ExitCode.interrupted
    except Exception as exc:
        if (lost := unreachable(exc)) is None:
            raise
        # The run's engines are stopped and its end is in servetune's own database, which needs no Prefect.
        raise PrefectUnreachable(
            f"{lost}; the run is recorded failed: once the server is back, run the same spec again to resume it"
        ) from None
    store = Store()
    run = store.find_run(summary.run_id)
    print()
    out = console(args.wide)
    print_rows(out, leaderboard_rows(store, run), args.wide)
    print()
    # The run's stored best, as `servetune show` prints it: with several objectives, the pick rule's choice.
    best = stored_best(store, run)
    print_blocks(out, best_card_blocks(store, run, best))
    print()
    print(f"stored in {store.safe_url} as run {run.id}; see it again with: servetune show {run.id}")
    return ExitCode.ok if best else ExitCode.no_feasible
