"""``modelport optimize REF``: convert or compress a version, check parity, keep the fastest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelport.cli.output import console, print_json, table

if TYPE_CHECKING:
    from modelport.services.optimization import Candidate, OptimizationReport

EXAMPLE = (
    "Example:\n\n"
    "    modelport optimize credit-risk:3 --runtime auto --traffic online --register\n\n"
    "    modelport optimize credit-risk:3 --quantize dynamic --prune 0.99 --json\n\n"
    "    modelport optimize credit-risk:3 --distill 0.97 --register --json"
)


def optimize(
    ref: Annotated[str, typer.Argument(help="the version to optimize, e.g. credit-risk:3")],
    runtime: Annotated[
        str, typer.Option(help="auto (fastest that passes), onnx or native")
    ] = "auto",
    quantize: Annotated[str, typer.Option(help="none, dynamic (int8) or fp16")] = "none",
    prune: Annotated[
        float | None,
        typer.Option(
            help="keep the fewest trees agreeing with the full model on this share of rows "
            "(scikit-learn forests and boosting, XGBoost, LightGBM)"
        ),
    ] = None,
    distill: Annotated[
        float | None,
        typer.Option(
            help="train a small GradientBoosting student on the model's outputs to this "
            "fidelity on held-out rows (label agreement; R² for regressors)"
        ),
    ] = None,
    tolerance: Annotated[
        float | None, typer.Option(help="largest absolute difference of outputs allowed")
    ] = None,
    max_label_changes: Annotated[
        float | None, typer.Option(help="share of rows (0..1) whose label may change")
    ] = None,
    sample: Annotated[
        str | None, typer.Option(help="rows to check on (.csv/.parquet), else the stored ones")
    ] = None,
    traffic: Annotated[str, typer.Option(help="online (1, 64 rows), batch (10k) or both")] = "both",
    register: Annotated[
        bool, typer.Option("--register", help="register the chosen model as a new version")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Build faster candidates of REF (ONNX, quantized, pruned, distilled), check each
    against the original on its stored sample, time them, and keep the fastest that passes.

    A conversion must predict what the original predicts (no label changed, outputs within
    float32 error); a pruned or distilled model must reach its agreement target, and
    with --prune or --distill the choice is among those smaller models only. With
    --register the chosen one becomes a new version of the same name; nothing is
    registered when it fails its check or when the original is fastest.
    """
    # imported here: the service pulls in pandas, the registry and the model libraries
    from modelport.errors import InvalidArgument
    from modelport.optimization.parity import Tolerance
    from modelport.registry import Registry
    from modelport.services.optimization import optimize as run
    from modelport.settings import Settings
    from modelport.tabular import read_table

    choices = {
        "--runtime": (runtime, ("auto", "onnx", "native")),
        "--quantize": (quantize, ("none", "dynamic", "fp16")),
        "--traffic": (traffic, ("online", "batch", "both")),
    }
    for option, (value, allowed) in choices.items():
        if value not in allowed:
            raise InvalidArgument(
                f"{option} {value!r} is not an option", hint=f"use one of: {', '.join(allowed)}"
            )
    strict = Tolerance()
    limits = Tolerance(
        strict.max_abs_diff if tolerance is None else tolerance,
        strict.max_label_changes if max_label_changes is None else max_label_changes,
    )
    frame = read_table(sample) if sample else None
    registry = Registry(Settings())
    try:
        report = run(
            registry,
            ref,
            runtime=runtime,  # type: ignore[arg-type]
            quantize=quantize,  # type: ignore[arg-type]
            prune=prune,
            distill=distill,
            tolerance=limits,
            sample=frame,
            traffic=traffic,  # type: ignore[arg-type]
            register=register,
        )
    finally:
        registry.close()
    if as_json:
        print_json(report.to_dict())
        return
    _show(report)


def _show(report: OptimizationReport) -> None:
    table(
        f"optimize {report.source} ({report.traffic} traffic)",
        ["candidate", "runtime", "check", "ms @1", "ms @64", "ms @10k", "rows/s @10k", "size"],
        [_row(c, c.name == report.chosen.name) for c in report.candidates],
    )
    for note in report.skipped:
        console.print(f"[dim]skipped[/] {note}")
    for candidate in report.candidates:
        if candidate.details is not None and candidate.runtime == "native":
            console.print(f"{candidate.name}: {_compression(candidate.details)}")
    console.print(f"chosen: [bold]{report.chosen.name}[/] ({report.reason})")
    if report.version:
        console.print(f"registered [bold]{report.version}[/] (optimized from {report.source})")
    elif not report.chosen.passed:
        console.print("[yellow]not registered[/]: the chosen candidate failed its check")


def _row(candidate: Candidate, chosen: bool) -> list[Any]:
    speed = candidate.speed
    cells = []
    for size in (1, 64, 10_000):
        batch = speed.at(size) if speed else None
        cells.append("-" if batch is None else f"{batch.median_ms:.3g}")
    large = speed.at(10_000) if speed else None
    size_bytes = speed.artifact_bytes if speed else None
    return [
        ("* " if chosen else "") + candidate.name,
        candidate.runtime,
        _check(candidate),
        *cells,
        "-" if large is None else f"{large.rows_per_second:,.0f}",
        "-" if size_bytes is None else f"{size_bytes / 1024:,.1f} KiB",
    ]


def _compression(details: dict[str, Any]) -> str:
    if "kept" in details:
        return f"{details['kept']} of {details['total']} trees kept"
    rows = details["rows"]
    return (
        f"{details['student']} ({details['student_size']['nodes']:,} nodes, teacher "
        f"{details['teacher_size']['nodes']:,}) learnt {details['targets']} on "
        f"{rows['sample']:,} stored + {rows['synthetic']:,} profile rows; fidelity "
        f"({details['measure']}) on {rows['held_out']:,} held-out rows"
    )


def _check(candidate: Candidate) -> str:
    verdict = "pass" if candidate.passed else "FAIL"
    if candidate.target is not None:
        return f"{verdict}: agreement {candidate.agreement:.4f} >= {candidate.target}?"
    parity = candidate.parity
    if parity is None:
        return candidate.note or "-"
    return f"{verdict}: max diff {parity.max_abs_diff:.2g}, {parity.label_changes:.1%} labels"


def attach(app: typer.Typer) -> None:
    """Register ``modelport optimize`` on the main app."""
    app.command("optimize", help=(optimize.__doc__ or "") + "\n\n" + EXAMPLE)(optimize)
