"""The ``modelport`` command line (Typer + Rich).

Commands only adapt: the work is in the library.
"""

from __future__ import annotations

import sys

import typer

from modelport.cli import aliases, batch, demo, models, monitor, serve
from modelport.cli.output import fail
from modelport.errors import ModelportError

app = typer.Typer(
    name="modelport",
    help=(
        "modelport: registry, serving, batch scoring and monitoring for ML models.\n\n"
        "Example:\n\n"
        "    modelport demo\n\n"
        "    modelport models list\n\n"
        "Settings come from MODELPORT_* environment variables, e.g. MODELPORT_HOME=/srv/modelport."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
models.attach(app)
aliases.attach(app)
demo.attach(app)
monitor.attach(app)
batch.attach(app)
serve.attach(app)


def main() -> None:
    """Console entry point: library errors become one clear message and exit code 1."""
    try:
        app()
    except ModelportError as exc:
        fail(exc.message, exc.hint)
        sys.exit(1)
