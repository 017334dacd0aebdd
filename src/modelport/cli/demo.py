"""``modelport demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.output import console


def demo(
    home: Annotated[
        Path | None, typer.Option(help="use this MODELPORT_HOME instead of the configured one")
    ] = None,
    rows: Annotated[int, typer.Option(min=1000, help="size of the synthetic data set")] = 20_000,
) -> None:
    """Run the whole product on a synthetic credit-risk data set, on embedded defaults.

    Trains and registers two versions, moves aliases (promote, rollback), loads
    by alias and predicts, and shows how bad input is refused.

    Example:

        modelport demo --home /tmp/modelport-demo
    """
    from modelport.demo.tour import run_demo  # imports the whole product: only when asked
    from modelport.settings import Settings

    settings = Settings(home=home) if home else Settings()
    run_demo(settings, console, rows=rows)


def attach(app: typer.Typer) -> None:
    app.command("demo")(demo)
