"""``modelport drift``, ``modelport monitor`` and ``modelport feedback``.

Exit codes: 0 for every run that completed, whatever it found (drift is a finding,
not a failure: scripts read ``--json``); 1 for errors (bad files, unknown models...).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelport.cli.output import console, print_json, table
from modelport.errors import DataError, InvalidArgument
from modelport.presentation.terminal import (
    overall_verdict,
    print_alerts,
    print_drift_table,
    print_monitor_report,
)

if TYPE_CHECKING:
    # at run time these load inside the commands: NumPy, pandas and SciPy would cost
    # every other command their import time
    pass

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
]


# -- modelport drift -----------------------------------------------------------------------


def drift(
    reference: Annotated[Path, typer.Argument(help="reference data: .parquet, .csv or .jsonl")],
    current: Annotated[Path, typer.Argument(help="current data, same columns")],
    as_json: JsonOpt = False,
    html_path: HtmlOpt = None,
    categorical: Annotated[
        list[str] | None,
        typer.Option("--categorical", help="treat this column as categorical; repeat for several"),
    ] = None,
) -> None:
    """Compare two data sets feature by feature and say which features drifted.

    Numeric columns: exact two-sample Kolmogorov-Smirnov, PSI, Wasserstein;
    categorical ones: chi-square and Jensen-Shannon, with categories the reference
    never saw listed. P-values are adjusted for multiple testing. The exit code is 0
    whenever the comparison ran, drift or not: read the verdict from --json.

    Example:

        modelport drift train.parquet last_week.parquet --html drift.html

        modelport drift ref.csv cur.csv --categorical zip_code --json
    """
    from modelport.monitoring.drift import compare
    from modelport.tabular import read_table

    ref_frame, cur_frame = read_table(reference), read_table(current)
    columns = list(categorical or [])
    report = compare(ref_frame, cur_frame, categorical=columns)
    if html_path is not None:
        from modelport.presentation.html import drift_html, write_html

        write_html(
            drift_html(
                report,
                ref_frame,
                cur_frame,
                categorical=columns,
                title="Drift report",
                subtitle=f"{reference.name} (reference) vs {current.name} (current)",
            ),
            html_path,
        )
    if as_json:
        print_json(report.to_dict())
        return
    print_drift_table(report, f"Drift: {current.name} vs {reference.name}", console)
    console.print(overall_verdict(report))
    if report.extra_columns:
        console.print(f"[dim]not in the reference (ignored): {', '.join(report.extra_columns)}[/]")
    if html_path is not None:
        console.print(f"HTML report: {html_path}")


# -- modelport monitor ---------------------------------------------------------------------


def monitor(
    target: Annotated[
        str, typer.Argument(help="a model name (every version with traffic), name:3 or name@alias")
    ],
    window: Annotated[
        str, typer.Option(help="window for the series over time: 15min, 1h, 1d")
    ] = "1h",
    since: Annotated[
        str | None, typer.Option(help="start: ISO date/time (UTC) or a duration back, e.g. 24h")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="end (exclusive): ISO date/time (UTC) or a duration back")
    ] = None,
    as_json: JsonOpt = False,
    html_path: HtmlOpt = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="alert rules (YAML) to evaluate and fire")
    ] = None,
    deployment: Annotated[
        str | None,
        typer.Option(
            "--deployment", help="only the requests this deployment routed: one entry per arm"
        ),
    ] = None,
) -> None:
    """Drift, live performance and traffic of a model, from its prediction log.

    Inputs and predictions are tested against each version's reference profile, over
    the whole period and per window; performance comes from the feedback sent with
    `modelport feedback`. With --rules, the rules of this model are evaluated and the
    ones that fire are carried out and recorded in alerts.jsonl in the modelport home
    (MODELPORT_HOME, default ~/.modelport). A window needs a unit (15min, 1h, 1d) and
    may cut the period into at most 2,000 windows. Exit code 0 whenever the report was
    made, drift or not. With --deployment, only the requests that deployment routed
    count: the versions in the report are its arms, compared over the same period (a
    canary's or an A/B test's arms side by side).

    Example:

        modelport monitor credit-risk@production --since 24h --html monitor.html

        modelport monitor credit-risk --window 1d --rules alerts.yaml --json

        modelport monitor credit-risk --deployment checkout --since 1h
    """
    if deployment is not None and rules is not None:
        raise InvalidArgument(
            "--rules and --deployment do not go together: alert rules judge a model's "
            "versions on all their traffic",
            hint="run the rules without --deployment",
        )
    from modelport.monitoring.monitor import run_monitor
    from modelport.predictions.reader import PredictionLogReader
    from modelport.registry import Registry
    from modelport.settings import Settings

    settings = Settings()
    registry = Registry(settings)
    try:
        reader = PredictionLogReader(settings.resolved_log_uri())
        now = datetime.now(UTC)
        report = run_monitor(
            registry,
            reader,
            target,
            window=window,
            since=since,
            until=until,
            now=now,
            deployment=deployment,
        )
        if html_path is not None:
            from modelport.presentation.html import monitor_html, write_html

            write_html(monitor_html(report), html_path)
        fired: list[dict[str, Any]] = []
        if rules is not None:
            from modelport.services.alerting import AlertService

            alerting = AlertService.from_settings(registry, settings, rules, reader=reader)
            fired = alerting.check(
                report.model,
                target=target,
                now=now,
                # with --since the period is the user's: every rule is judged on the report
                report=report if since is not None else None,
                window=window,
                until=until,
            )
    finally:
        registry.close()
    if as_json:
        data = report.to_dict()
        if rules is not None:
            data["alerts"] = fired
        if deployment is not None:
            data["deployment"] = deployment
        print_json(data)
        return
    if deployment is not None:
        console.print(f"Only the requests deployment {deployment} routed; one entry per arm.")
    print_monitor_report(report, console)
    if rules is not None:
        print_alerts(fired, console)
    if html_path is not None:
        console.print(f"HTML report: {html_path}")


# -- modelport feedback --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """NumPy scalars as Python values; whole floats as ints (1.0 -> 1, as CSV reads them).

    A table cannot tell a missing cell from NaN: both are a missing label (None).
    """
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _feedback_records(path: Path) -> list[dict[str, Any]]:
    import orjson
    import pandas as pd

    from modelport.tabular import read_table, table_format

    fmt = table_format(path)
    if fmt == "json":
        # read line by line: pandas would turn ids that look like numbers into numbers
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc}", hint="check the path") from exc
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise DataError(
                    f"{path} line {number} is not JSON: {exc}",
                    hint='write one object per line: {"prediction_id": "...", "label": 1}',
                ) from None
            if isinstance(record, dict):  # like the table formats: other fields are ignored
                record = {k: record[k] for k in ("prediction_id", "label") if k in record}
            records.append(record)
        return records
    if fmt == "csv":
        try:
            frame = pd.read_csv(path, dtype={"prediction_id": str})
        except FileNotFoundError as exc:
            raise DataError(f"no such file: {path}", hint="check the path") from exc
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read {path} as csv: {exc}", hint="check the file") from exc
    else:
        frame = read_table(path)
    missing = [c for c in ("prediction_id", "label") if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path} lacks the column(s) {', '.join(missing)}",
            hint="the file needs columns prediction_id and label (other columns are ignored)",
        )
    return [
        {"prediction_id": _plain(pid), "label": _plain(label)}
        for pid, label in zip(frame["prediction_id"], frame["label"], strict=True)
    ]


def feedback(
    file: Annotated[
        Path, typer.Argument(help=".parquet, .csv or .jsonl with columns prediction_id, label")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Send ground truth in bulk: labels for logged predictions.

    Each row names a prediction by the prediction_id the model returned and gives the
    true label: one of the model's classes, or a finite number for a regressor. If any
    row is invalid, nothing is stored, every bad row is listed and the exit code is 1.
    Ids that are not in the prediction log are listed as unknown and not stored; the
    rest are stored durably and feed `modelport monitor`. Sending a label again for an
    id corrects it.

    Example:

        modelport feedback outcomes.csv

        modelport feedback outcomes.jsonl --json
    """
    from modelport.registry import Registry
    from modelport.services.feedback import FeedbackService
    from modelport.settings import Settings

    settings = Settings()
    records = _feedback_records(file)
    registry = Registry(settings)
    try:
        service = FeedbackService(registry, settings.resolved_log_uri())
        try:
            result = service.record_now(records)
        finally:
            service.close()
    finally:
        registry.close()
    if as_json:
        print_json(result.to_dict())
        if result.rejected:
            raise typer.Exit(1)
        return
    if result.rejected:
        console.print(
            f"[red]rejected[/]: {len(result.invalid):,} of {len(records):,} rows in {file.name} "
            "are invalid, so nothing was stored; fix them and send the file again"
        )
    else:
        console.print(
            f"[green]accepted[/] {result.accepted:,} · [yellow]unknown[/] "
            f"{len(result.unknown_ids):,}  (of {len(records):,} rows in {file.name})"
        )
    if result.unknown_ids:
        shown = result.unknown_ids[:20]
        more = len(result.unknown_ids) - len(shown)
        console.print(
            "unknown prediction ids (not in the log, not stored): "
            + ", ".join(shown)
            + (f" and {more:,} more (see --json)" if more else "")
        )
    if result.invalid:
        table(
            "Invalid rows",
            ["row", "prediction_id", "problem"],
            [
                (
                    "" if p.get("index") is None else p["index"] + 1,
                    p.get("prediction_id", ""),
                    p["problem"],
                )
                for p in result.invalid[:20]
            ],
        )
        if len(result.invalid) > 20:
            console.print(f"and {len(result.invalid) - 20:,} more (see --json)")
        raise typer.Exit(1)


def attach(app: typer.Typer) -> None:
    """Register ``modelport drift``, ``modelport monitor`` and ``modelport feedback``."""
    app.command("drift")(drift)
    app.command("monitor")(monitor)
    app.command("feedback")(feedback)
