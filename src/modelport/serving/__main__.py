"""``python -m modelport.serving REF ... --port N``: the serve command without the full CLI."""

from __future__ import annotations

import typer

from modelport.cli.serve import attach

app = typer.Typer(pretty_exceptions_enable=False)
attach(app)

if __name__ == "__main__":
    app()
