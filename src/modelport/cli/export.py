"""``modelport export REF --format edge OUT``: a folder that predicts with NumPy and ONNX
Runtime only."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.cli.output import console, print_json

EXAMPLE = (
    "Example:\n\n"
    "    modelport export credit-risk@production --format edge credit-edge\n\n"
    "    python credit-edge/predict.py rows.jsonl > predictions.jsonl"
)


def export(
    ref: Annotated[str, typer.Argument(help="the version to export, e.g. credit-risk:3")],
    out: Annotated[str, typer.Argument(help="the bundle's directory (new or empty)")],
    kind: Annotated[str, typer.Option("--format", help="the kind of export: edge")] = "edge",
    force: Annotated[
        bool, typer.Option("--force", help="replace the contents of a non-empty OUT")
    ] = False,
    sample: Annotated[
        str | None,
        typer.Option(help="rows to check the conversion on (.csv/.parquet), else the stored ones"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Export REF as a self-contained edge bundle in OUT: model.onnx, signature.json (the
    server's input rules), predict.py (needs only Python 3.9+, numpy and onnxruntime),
    README.md and manifest.json (sha256 of every file).

    A model that is not ONNX is converted first, and the conversion must predict what the
    original predicts on its stored training sample (no label changed, probabilities
    within float32 error), as for `modelport optimize`; nothing is written otherwise.
    """
    # imported here: the service pulls in pandas, the registry and the model libraries
    from modelport.errors import InvalidArgument
    from modelport.registry import Registry
    from modelport.services.exporting import FORMATS, export_edge
    from modelport.settings import Settings
    from modelport.tabular import read_table

    if kind not in FORMATS:
        raise InvalidArgument(
            f"--format {kind!r} is not an export format", hint=f"use one of: {', '.join(FORMATS)}"
        )
    frame = read_table(sample) if sample else None
    registry = Registry(Settings())
    try:
        report = export_edge(registry, ref, out, force=force, sample=frame)
    finally:
        registry.close()
    if as_json:
        print_json(report.to_dict())
        return
    how = "exported as ONNX"
    if report.parity is not None:
        how = (
            f"converted to ONNX from {report.source_flavor}; parity on {report.parity.rows} "
            f"rows: max diff {report.parity.max_abs_diff:.2g}, "
            f"{report.parity.label_changes:.1%} labels changed"
        )
    console.print(f"[bold]{report.source}[/] → {report.out}/ ({how})")
    for name, digest in report.files.items():
        console.print(f"  {name:<15} sha256 {digest[:16]}…")
    if report.bundle_check is not None:
        check = report.bundle_check
        console.print(
            f"predict.py checked on {check.rows} sample rows: max diff "
            f"{check.max_abs_diff:.2g}, {check.label_changes:.1%} labels changed"
        )
    console.print(f"run it: [bold]python {report.out / 'predict.py'} ROWS.jsonl[/]")


def attach(app: typer.Typer) -> None:
    """Register ``modelport export`` on the main app."""
    app.command("export", help=(export.__doc__ or "") + "\n\n" + EXAMPLE)(export)
