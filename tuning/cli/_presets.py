"""``servetune presets``: the named search spaces a spec's ``search_space.preset`` may use."""

from __future__ import annotations

import argparse

from rich import box
from rich.table import Table
from rich.text import Text

from tuning.errors import ExitCode
from tuning.spec import Dimension


def dimension_text(dimension: Dimension) -> str:
    """A dimension as a reader writes it: its values, or its range."""
    if dimension.values is not None:
        return ", ".join(str(value).lower() if isinstance(value, bool) else str(value) for value in dimension.values)
    text = f"{dimension.low} to {dimension.high}"
    if dimension.step is not None:
        text += f", step {dimension.step}"
    return text + (", log scale" if dimension.log else "")


def cmd_presets(args: argparse.Namespace) -> int:
    from tuning.report.terminal import console
    from tuning.spec.search_presets import presets, presets_for

    shown = presets_for(args.engine) if args.engine else list(presets().values())
    out = console()
    which = f"for {args.engine}" if args.engine else "for every engine"
    usage = "a spec uses one with `search_space: {preset: NAME}` (docs/search-spaces.md)"
    out.print(Text(f"{len(shown)} presets {which}; {usage}"))
    for preset in shown:
        out.print()
        out.print(Text.assemble((preset.name, "bold"), f"  version {preset.version}  ({preset.engine.value})"))
        out.print(Text(preset.description), width=min(out.width, 110))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 2, 0, 2), header_style="bold")
        table.add_column("flag", no_wrap=True)
        table.add_column("values", overflow="fold")
        for flag, dimension in preset.entries.items():
            table.add_row(Text(flag), Text(dimension_text(dimension)))
        out.print(table)
    return ExitCode.ok
