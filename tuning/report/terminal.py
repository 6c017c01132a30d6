"""What the CLI prints: the report's rows and blocks as aligned tables and plain text, for a terminal.

The Prefect artifacts keep markdown (``leaderboard.markdown``); a terminal shows markdown's ``**`` and ``|`` as
they are, so here the same rows and blocks become rich tables: the best row starred and bold, long reasons cut
to the terminal's width with an ellipsis (whole with ``wide``). Piped or captured output (CI, tests, ``| less``)
has no colour codes and a fixed width: ``$COLUMNS``, else 120.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tuning.report.leaderboard import Block, Code, Command, Heading, Lines, Paragraph, Spans, Strong
from tuning.report.leaderboard import Table as BlockTable

# Columns that say why: the long free text of a row, shortened first when a row is too wide.
REASON_COLUMNS = ("note", "pick rule")
BEST_MARK = "★"
_PIPED_WIDTH = 120
_REASON_MIN_WIDTH = 20
_REASON_FLOOR = 8
# Wide enough that no row of a wide table is cut or wrapped; a terminal wraps it as it shows it.
_UNLIMITED = 100_000
# Between two columns: a cell's right padding and the (blank) column divider.
_GAP = 2


def _piped_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else _PIPED_WIDTH


def console(wide: bool = False) -> Console:
    """A console on stdout: a terminal's own width and colours, or plain text 120 (``$COLUMNS``) wide."""
    width = _UNLIMITED if wide else None if sys.stdout.isatty() else _piped_width()
    return Console(width=width, markup=False, highlight=False, emoji=False, soft_wrap=False)


def _best(cell: str) -> bool:
    # The report's rows mark the best trial (or the pick rule's choice) as "3 *".
    return cell.endswith(" *")


def _text(spans: Spans) -> Text:
    text = Text()
    for span in spans:
        text.append(span, style="bold" if isinstance(span, Strong) else "cyan" if isinstance(span, Code) else "")
    return text


def _widths(out: Console, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[dict[str, int], int]:
    """Each other column's width, and the reason column's: the rest of the line.

    When the columns do not fit at their headers' widths, a header wraps onto a second line at its spaces
    (``goodput`` over ``req/s``), and so does a cell of several words (a configuration's ``flag=value`` pairs, one
    under the other); a number is never split, unless the terminal is too narrow for the values alone."""
    others = [h for h in headers if h not in REASON_COLUMNS]
    longest = {h: max((cell_len(row[i]) for row in rows), default=0) for i, h in enumerate(headers)}
    widths = {h: max(cell_len(h), longest[h]) for h in others}
    gaps = _GAP * (len(headers) - 1)
    reason_min = _REASON_MIN_WIDTH if len(others) < len(headers) else 0
    if sum(widths.values()) + gaps + reason_min > out.width:
        words = {
            h: max((cell_len(w) for row in rows for w in row[i].split()), default=0) for i, h in enumerate(headers)
        }
        # At most two lines of a header: half of it, or its longest word.
        widths = {h: max(words[h], -(-cell_len(h) // 2), *(cell_len(w) for w in h.split())) for h in others}
    # The reason gives way before a number would be split: it is cut, and --wide shows it whole.
    return widths, max(_REASON_FLOOR, out.width - sum(widths.values()) - gaps)


def _aligned(out: Console, headers: Sequence[str], rows: Sequence[Sequence[str]], wide: bool) -> Table:
    """A borderless table: columns two spaces apart under a rule, as `ls -l` or `docker ps` align theirs; the
    best row (first cell "N *") starred and bold; reasons cut with an ellipsis unless ``wide``."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    widths, reason_width = ({}, 0) if wide else _widths(out, headers, rows)
    for header in headers:
        if header in REASON_COLUMNS:
            table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=None if wide else reason_width)
        else:
            table.add_column(header, width=widths.get(header), no_wrap=wide, overflow="fold")
    for row in rows:
        best = bool(row) and _best(row[0])
        cells = [f"{row[0][:-2]} {BEST_MARK}", *row[1:]] if best else row
        table.add_row(*(_text((cell,)) for cell in cells), style="bold" if best else None)
    return table


def rows_table(out: Console, rows: list[dict[str, str]], wide: bool = False) -> Table | Text:
    """Rows (of ``leaderboard_rows``, ``pareto_rows``, ``history_rows`` ...) as a table; the best row starred."""
    if not rows:
        return Text("(no trials)")
    headers = list(rows[0])
    return _aligned(out, headers, [[row[h] for h in headers] for row in rows], wide)


def print_rows(out: Console, rows: list[dict[str, str]], wide: bool = False) -> None:
    out.print(rows_table(out, rows, wide))


def print_blocks(out: Console, blocks: Sequence[Block]) -> None:
    """A card (``best_card_blocks``) as plain text: a bold title, tables, and the command on lines of its own."""
    for i, block in enumerate(blocks):
        if i:
            out.print()
        if isinstance(block, Heading):
            out.print(_text(block.spans), style="bold")
        elif isinstance(block, Paragraph):
            out.print(_text(block.spans))
        elif isinstance(block, BlockTable):
            out.print(_aligned(out, block.headers, block.rows, wide=False))
        elif isinstance(block, Command):
            # soft_wrap: no line breaks of rich's own inside it, so it copies and pastes as one command.
            out.print(block.text, soft_wrap=True)
        elif isinstance(block, Lines):
            for line in block.lines:
                out.print(_text(line), soft_wrap=True)
