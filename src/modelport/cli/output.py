"""CLI output: Rich tables for people, ``--json`` for scripts, errors in one style."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

console = Console()
errors = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str
        ).decode()
        + "\n"
    )


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    out: Console | None = None,
) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    show(grid, out or console)


def show(grid: Table, out: Console) -> None:
    """Print a table; to a file or a pipe, as wide as its content.

    A terminal's width is real: the table wraps to fit it. A file has no width, and
    Rich's stand-in (80 columns) would cut values short with "…", which a script reading
    the output cannot undo. So there, this one table is rendered at the width its
    content needs, and nothing else (rules, messages) is widened.
    """
    if out.is_terminal:
        out.print(grid)
        return
    for column in grid.columns:
        column.no_wrap = True
        column.overflow = "fold"  # never "…"; folding cannot happen at the natural width
    unbounded = out.options.update(width=sys.maxsize // 4, max_width=sys.maxsize // 4)
    width = Measurement.get(out, unbounded, grid).maximum
    for line in out.render_lines(grid, out.options.update(width=max(width, 1)), pad=False):
        text = Text.assemble(*((segment.text, segment.style) for segment in line))
        text.rstrip()  # the title is padded to the table's width
        out.print(text, soft_wrap=True, highlight=False)


def fail(message: str, hint: str | None = None) -> None:
    # soft_wrap: an error is one line however long its path, not broken at 80 columns
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        errors.print(f"[dim]hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)
