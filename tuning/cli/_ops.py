"""``servetune sweep`` and ``pools apply``: what operators run around the runs."""

from __future__ import annotations

import argparse
import sys

from tuning.errors import ExitCode, ServetuneError, UserInputError


def cmd_sweep(args: argparse.Namespace) -> int:
    """``servetune sweep [SPEC]``: remove what crashed runs left, for every deployer kind (or ``--kind``).

    With SPEC, its deployer section says where its engines run (a Docker host, a namespace); the other kinds use
    their defaults. A kind that cannot be reached is reported and skipped, unless it was asked for by name or by
    SPEC: then the sweep fails (exit 1), as the engines it should remove may still be running.
    """
    from deployers import DEPLOYERS, DeployError
    from tuning.spec import ModelSpec, TuningSpec
    from tuning.spec.loading import load_spec

    unknown = [kind for kind in args.kind or [] if kind not in DEPLOYERS]
    if unknown:
        raise UserInputError(f"--kind {unknown[0]!r} is not a deployer kind; use one of {', '.join(DEPLOYERS)}")
    given = load_spec(args.spec) if args.spec else None
    kinds = args.kind or list(DEPLOYERS)
    required = set(args.kind or []) | ({given.deployer.kind} if given else set())
    failed = []
    for kind in kinds:
        deployer_class = DEPLOYERS[kind]
        if given is not None and given.deployer.kind == kind:
            spec = given
        else:
            deployer = {"kind": kind, **deployer_class.sweep_defaults}
            spec = TuningSpec(name="sweep", model=ModelSpec(path="unused"), deployer=deployer)
        try:
            removed = deployer_class(spec).sweep(args.run, include_live_owners=args.run is not None)
        except DeployError as exc:
            print(f"{kind}: not swept: {exc}", file=sys.stderr if kind in required else sys.stdout)
            if kind in required:
                failed.append(kind)
            continue
        print("\n".join(f"{kind}: removed {label}" for label in removed) or f"{kind}: nothing to remove")
    if failed:
        raise ServetuneError(f"could not sweep {', '.join(failed)}: its engines may still be running")
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
