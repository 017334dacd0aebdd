"""CLI output: Rich tables for people (:mod:`modelport.presentation.terminal`), ``--json`` for
scripts, errors in one style."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape

from modelport.presentation.terminal import show, table

console = Console()
errors = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str
        ).decode()
        + "\n"
    )


def fail(message: str, hint: str | None = None) -> None:
    # soft_wrap: an error is one line however long its path, not broken at 80 columns
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        errors.print(f"[dim]hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)


__all__ = ["console", "errors", "fail", "print_json", "show", "table"]
