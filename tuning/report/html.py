"""The report's blocks (``leaderboard.Block``) as HTML, for the self-contained report page.

Every piece of text is escaped: a trial's reason is an engine's own error message and a spec value is a user's,
and either may hold ``<`` or ``&``. What comes back is ``Markup``, which the page template inserts as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from tuning.report.figure import Figure
from tuning.report.leaderboard import Block, Code, Command, Heading, Paragraph, Spans, Strong, Table

BEST_MARK = "★"


def html_spans(spans: Spans) -> Markup:
    parts = []
    for span in spans:
        if isinstance(span, Strong):
            parts.append(Markup("<strong>{}</strong>").format(span))
        elif isinstance(span, Code):
            parts.append(Markup("<code>{}</code>").format(span))
        else:
            parts.append(escape(span))
    return Markup("").join(parts)


def _best(cell: str) -> bool:
    # The report's rows mark the best trial (or the pick rule's choice) as "3 *".
    return cell.endswith(" *")


def _cell(cell: str) -> Markup:
    """A value stays whole; a cell of several (a configuration's flag=value pairs) wraps between them only."""
    if " " not in cell.strip():
        return Markup("<td>{}</td>").format(html_spans((cell,)))
    words = Markup(" ").join(Markup('<span class="word">{}</span>').format(word) for word in cell.split())
    return Markup('<td class="words">{}</td>').format(words)


def _reason(cell: str) -> Markup:
    return Markup("<td>{}</td>").format(html_spans((cell,)))


def html_table(table: Table) -> Markup:
    """A table; a row whose first cell is starred (the best trial) is marked and stands out."""
    head = Markup("").join(Markup("<th>{}</th>").format(h) for h in table.headers)
    rows = []
    for row in table.rows:
        best = bool(row) and _best(row[0])
        cells = [f"{row[0][:-2]} {BEST_MARK}", *row[1:]] if best else list(row)
        last = len(cells) - 1
        tds = Markup("").join(_cell(cell) if i < last else _reason(cell) for i, cell in enumerate(cells))
        rows.append(Markup('<tr class="best">{}</tr>' if best else "<tr>{}</tr>").format(tds))
    return Markup('<div class="table"><table><thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>').format(
        head, Markup("\n").join(rows)
    )


def html_rows(rows: list[dict[str, str]]) -> Markup:
    """Rows (of ``leaderboard_rows``, ``pareto_rows`` ...) as a table, the best row starred."""
    if not rows:
        return Markup("<p>(no trials)</p>")
    headers = tuple(rows[0])
    return html_table(Table(headers, tuple(tuple(r[h] for h in headers) for r in rows)))


def html_blocks(blocks: Sequence[Block]) -> Markup:
    """A card (``best_card_blocks``, ...) as HTML: its heading one level under the page's sections."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(Markup("<h3>{}</h3>").format(html_spans(block.spans)))
        elif isinstance(block, Paragraph):
            parts.append(Markup("<p>{}</p>").format(html_spans(block.spans)))
        elif isinstance(block, Table):
            parts.append(html_table(block))
        elif isinstance(block, Command):
            # A <pre> of its own, nothing else in it, so it copies and pastes as one command.
            parts.append(
                Markup(
                    '<div class="command"><pre>{}</pre>'
                    '<button type="button" class="copy" title="copy the command">copy</button></div>'
                ).format(block.text)
            )
        else:
            parts.append(Markup("<p>{}</p>").format(Markup("<br>\n").join(html_spans(line) for line in block.lines)))
    return Markup("\n").join(parts)


def html_figures(figures: Sequence[Figure]) -> Markup:
    """The run's plots, each embedded as a ``data:`` URI with its title and how to read it."""
    if not figures:
        return Markup("<p>No plots: the run has no measured trial to draw.</p>")
    return Markup("\n").join(
        Markup('<figure id="plot-{}"><h3>{}</h3><img src="{}" alt="{}"><figcaption>{}</figcaption></figure>').format(
            f.key, f.title, f.data_uri(), f.title, f.caption
        )
        for f in figures
    )
