"""``servetune flags``, ``make-model`` and ``spec-docs``: an engine's flags, a model to serve, the spec's fields."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tuning.errors import ExitCode


def cmd_flags(args: argparse.Namespace) -> int:
    from deployers.engines import ENGINES, FlagsUnavailable, default_flags_python, engine_flags
    from tuning.report.leaderboard import text_table

    python = args.python or default_flags_python(args.engine)
    try:
        flags = engine_flags(args.engine, python)
    except FlagsUnavailable as exc:
        hint = ENGINES[args.engine].flags_venv or ".venvs/ENV"
        raise FlagsUnavailable(
            f"cannot read {args.engine}'s flags: {exc}\n"
            f"  give --python PATH, an interpreter with {args.engine} installed (e.g. {hint}/bin/python)"
        ) from None

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
    return ExitCode.ok


def cmd_make_model(args: argparse.Namespace) -> int:
    from tuning.cli.tiny_model import is_tiny_model, make_tiny_llama

    out = Path(args.out).expanduser()
    if is_tiny_model(out) and not args.force:
        print(f"{out}: tiny model already present")
        return ExitCode.ok
    parameters = make_tiny_llama(out, seed=args.seed)
    print(f"{out}: tiny Llama with {parameters:,} parameters (random weights, tokenizer trained offline)")
    return ExitCode.ok


def cmd_spec_docs(args: argparse.Namespace) -> int:
    from tuning.spec.docs import spec_reference

    print(spec_reference(), end="")
    return ExitCode.ok
