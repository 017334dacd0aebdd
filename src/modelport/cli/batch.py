"""``modelport batch``: score a file or directory with a registered model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelport.cli.output import console, print_json

if TYPE_CHECKING:
    from rich.progress import ProgressColumn


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _rows_per_second() -> ProgressColumn:
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="cyan")

    return RowsPerSecond()


def batch(
    ref: Annotated[str, typer.Argument(help="the model: name, name:3 or name@alias")],
    input: Annotated[str, typer.Argument(help="Parquet, CSV or JSON Lines file or directory")],
    output: Annotated[str, typer.Argument(help="output file (.parquet/.csv/.jsonl) or directory")],
    engine: Annotated[str, typer.Option(help="local (process pool) or spark")] = "local",
    master: Annotated[
        str | None,
        typer.Option(
            help="--engine spark: the Spark master URL, e.g. spark://host:7077, yarn, "
            "k8s://https://host (default local[*])"
        ),
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="model input columns, comma-separated (default: signature)")
    ] = None,
    keep: Annotated[
        str | None, typer.Option(help="input columns copied to the output, e.g. id,customer")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="worker processes (default: number of cores)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="rows per prediction call and part")] = 100_000,
    input_format: Annotated[
        str | None, typer.Option("--format", help="input format if the name does not tell")
    ] = None,
    output_format: Annotated[
        str | None, typer.Option(help="output format (parquet/csv/jsonl)")
    ] = None,
    no_proba: Annotated[
        bool, typer.Option("--no-proba", help="classifiers: skip the probability columns")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an existing output")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Score INPUT with a model and write predictions to OUTPUT.

    Rows that fail the model's signature go to a rejects file with the reason. A run
    that was interrupted continues where it stopped when run again.

    Example:

        modelport batch credit-risk@production applications.parquet scores.parquet --keep id

        modelport batch credit-risk@production s3://bucket/in/ s3://bucket/scores/ \\
            --engine spark --master spark://spark-master:7077

    On a cluster the executors run the same Python path with modelport installed, and
    INPUT and OUTPUT must be storage every executor reaches.
    """
    # imported here: the batch engine pulls in pandas, Arrow and the model libraries
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from modelport.batch import score
    from modelport.settings import Settings

    with Progress(
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        _rows_per_second(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,  # a bar in a log file is noise
    ) as bar:
        task = bar.add_task("rows", total=None)

        def progress(rows: int, total: int | None) -> None:
            bar.update(task, advance=rows, total=total)

        summary = score(
            ref,
            input,
            output,
            engine=engine,  # type: ignore[arg-type]  # score() names the bad value
            columns=_split(columns),
            keep=_split(keep),
            workers=workers,
            batch_size=batch_size,
            input_format=input_format,
            output_format=output_format,
            probabilities=not no_proba,
            overwrite=overwrite,
            progress=progress,
            settings=Settings(),
            master=master,
        )
    if as_json:
        print_json(summary.to_dict())
        return
    resumed = (
        f" ({summary.parts_resumed} parts from an earlier run)" if summary.parts_resumed else ""
    )
    console.print(
        f"[green]scored[/] {summary.rows_scored:,} of {summary.rows_read:,} rows with "
        f"{summary.ref} in {summary.seconds:.1f}s ({summary.rows_per_second:,.0f} rows/s){resumed}"
    )
    console.print(f"output: {summary.output}")
    if summary.rejects:
        console.print(
            f"[yellow]rejected[/] {summary.rows_rejected:,} rows; reasons in {summary.rejects}"
        )


def attach(app: typer.Typer) -> None:
    """Register ``modelport batch`` on the main app."""
    app.command("batch")(batch)
