"""``servetune sweep`` and ``pools apply``: what operators run around the runs."""

from __future__ import annotations

import argparse

from tuning.errors import ExitCode, ServetuneError, UserInputError


def cmd_sweep(args: argparse.Namespace) -> int:
    from deployers import DEPLOYERS
    from tuning.spec import ModelSpec, TuningSpec

    spec = TuningSpec(name="sweep", model=ModelSpec(path="unused"))
    removed = DEPLOYERS["local"](spec).sweep(args.run, include_live_owners=args.run is not None)
    print("\n".join(f"removed {label}" for label in removed) or "nothing to remove")
    return ExitCode.ok


def cmd_pools_apply(args: argparse.Namespace) -> int:
    """``servetune pools apply [FILE]``: 0 when applied; 2 for a bad file or no server to apply to (before
    anything is sent); 1 when the server refused or could not be reached."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    from tuning.runtime.pools import apply_pools, load_pools

    load_pools(args.file)  # a bad file is reported whether or not a server is set
    server = PREFECT_API_URL.value()
    if not server:
        raise UserInputError(
            "PREFECT_API_URL is not set; point it at the Prefect server your workers use "
            "(without it the pools would go to a temporary server that vanishes)"
        )
    try:
        done = apply_pools(args.file)
    except httpx.HTTPError as exc:
        raise ServetuneError(f"the Prefect server at {server} did not take the pools: {exc}") from None
    for line in done:
        print(line)
    changed = sum(not line.startswith("unchanged") for line in done)
    print(f"{args.file}: {changed} change(s) applied to {server}" if changed else f"{args.file}: no changes")
    return ExitCode.ok
