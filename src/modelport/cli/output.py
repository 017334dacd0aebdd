"""CLI output: Rich tables for people, ``--json`` for scripts, errors in one style."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

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
    (out or console).print(grid)


def fail(message: str, hint: str | None = None) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    if hint:
        errors.print(f"[dim]hint:[/] {hint}", highlight=False)
