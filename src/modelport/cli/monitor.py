"""``modelport drift``, ``modelport monitor`` and ``modelport feedback``.

Exit codes: 0 for every run that completed, whatever it found (drift is a finding,
not a failure: scripts read ``--json``); 1 for errors (bad files, unknown models...).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import orjson
import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from modelport.cli.output import console, print_json, table
from modelport.errors import DataError
from modelport.monitoring.report import DriftReport, FeatureDrift
from modelport.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
]


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.2e}"
    return f"{value:.3g}"


_SHORT = {"numeric": "num", "categorical": "cat", "chi_square": "chi2"}


def _verdict(entry: FeatureDrift) -> str:
    if not entry.drift:
        return "[green]ok[/]"
    why = [
        w for w, on in (("dist", entry.distribution_drift), ("missing", entry.missing_drift)) if on
    ]
    return f"[bold red]DRIFT[/] {'+'.join(why)}"


def print_drift_table(report: DriftReport, title: str, out: Console = console) -> None:
    entries = list(report.features.values())
    if report.predictions is not None:
        entries.append(report.predictions)
    rows = []
    for f in sorted(entries, key=lambda f: (not f.drift, -(f.effect or 0.0))):
        name = f.name if f is not report.predictions else "(predictions)"
        if f.n_unseen_categories:
            name += f" [red]+{f.n_unseen_categories} new[/]"
        rows.append(
            (
                f"[bold red]{name}[/]" if f.drift else name,
                _SHORT.get(f.kind, f.kind),
                _SHORT.get(f.test, f.test),
                _num(f.statistic),
                _num(f.p_value_adjusted),
                _num(f.effect),
                _num(f.psi),
                f"{f.missing_rate_reference:.1%}→{f.missing_rate_current:.1%}",
                _verdict(f),
            )
        )
    grid = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    grid.add_column("feature", min_width=14, no_wrap=True, overflow="ellipsis")
    for column in ("kind", "test", "statistic", "p (adj.)", "effect", "PSI", "missing"):
        grid.add_column(
            column, no_wrap=True, justify="left" if column in ("kind", "test") else "right"
        )
    grid.add_column("verdict", no_wrap=True)
    for row in rows:
        grid.add_row(*row)
    out.print(grid)


def overall_verdict(report: DriftReport) -> str:
    if not report.drift:
        return f"[green]no drift[/] in {len(report.features)} features"
    parts = []
    if report.drifted_features:
        parts.append(
            f"{len(report.drifted_features)} of {len(report.features)} features drifted: "
            + ", ".join(report.drifted_features)
        )
    if report.predictions is not None and report.predictions.drift:
        parts.append("the predictions drifted")
    return "[bold red]drift detected[/]: " + "; ".join(parts)


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
    print_drift_table(report, f"Drift: {current.name} vs {reference.name}")
    console.print(overall_verdict(report))
    if report.extra_columns:
        console.print(f"[dim]not in the reference (ignored): {', '.join(report.extra_columns)}[/]")
    if html_path is not None:
        console.print(f"HTML report: {html_path}")


# -- modelport monitor ---------------------------------------------------------------------


def print_monitor_report(report: Any, out: Console = console) -> None:
    for entry in report.versions:
        traffic = entry.traffic
        out.rule(
            f"[bold]{entry.ref}[/]" + (f" ({', '.join(entry.aliases)})" if entry.aliases else "")
        )
        latency = traffic["latency_ms"]
        table(
            "Traffic",
            ["predictions", "with feedback", "first", "last", "latency p50", "p95", "p99"],
            [
                (
                    f"{traffic['count']:,}",
                    f"{traffic['labelled']:,}",
                    (traffic["first"] or "")[:19].replace("T", " "),
                    (traffic["last"] or "")[:19].replace("T", " "),
                    f"{_num(latency['p50'])} ms",
                    f"{_num(latency['p95'])} ms",
                    f"{_num(latency['p99'])} ms",
                )
            ],
            out,
        )
        if entry.drift is not None:
            print_drift_table(entry.drift, "Drift against the reference profile", out)
            out.print(overall_verdict(entry.drift))
            drifted = [w for w in entry.drift_over_time if w["drift"]]
            out.print(
                f"windows of {report.window}: {len(drifted)} of {len(entry.drift_over_time)} "
                "drifted"
            )
        if entry.performance is not None:
            metrics = entry.performance["metrics"]
            table(
                f"Performance ({entry.task}, {entry.performance['labelled']:,} labelled)",
                list(metrics),
                [[_num(v) for v in metrics.values()]],
                out,
            )
        for note in entry.notes:
            out.print(f"[yellow]note:[/] {note}")


def _alerts(
    rules_path: Path,
    report: Any,
    registry: Any,
    reader: Any,
    settings: Settings,
    *,
    target: str,
    window: str,
    since_given: bool,
    until: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Evaluate the rules of the model on the monitor results, fire and journal them.

    Without --since, each rule sees the traffic of its own ``window`` up to now (the
    report printed covers the whole log); with --since, every rule sees the report.
    """
    from modelport.monitoring.actions import AlertJournal, fire
    from modelport.monitoring.alerts import evaluate, load_rules
    from modelport.monitoring.monitor import run_monitor

    rules = [r for r in load_rules(rules_path) if r.model == report.model]
    journal = AlertJournal(settings.resolved_home() / "alerts.jsonl")
    state = journal.state()
    records: list[dict[str, Any]] = []
    groups: dict[Any, list[Any]] = {}
    for rule in rules:
        groups.setdefault(None if since_given else rule.window, []).append(rule)
    for span, group in groups.items():
        if span is None:
            per_version = report.observations()
        else:
            try:
                recent = run_monitor(
                    registry,
                    reader,
                    target,
                    window=window,
                    since=now - span,
                    until=until,
                    now=now,
                )
                per_version = recent.observations()
            except DataError:  # no traffic in the rule's window is an observation too
                per_version = {0: {"traffic.count": 0.0}}
        for version, values in sorted(per_version.items()):
            firings = evaluate(group, report.model, values, now, state.last_fired)
            for record in fire(firings, journal, state, registry):
                records.append({**record, "version": version or None})
    return records


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
) -> None:
    """Drift, live performance and traffic of a model, from its prediction log.

    Inputs and predictions are tested against each version's reference profile, over
    the whole period and per window; performance comes from the feedback sent with
    `modelport feedback`. With --rules, the rules of this model are evaluated and the
    ones that fire are carried out and recorded in alerts.jsonl in the modelport home
    (MODELPORT_HOME, default ~/.modelport). A window needs a unit (15min, 1h, 1d) and
    may cut the period into at most 2,000 windows. Exit code 0 whenever the report was
    made, drift or not.

    Example:

        modelport monitor credit-risk@production --since 24h --html monitor.html

        modelport monitor credit-risk --window 1d --rules alerts.yaml --json
    """
    from modelport.monitoring.monitor import run_monitor
    from modelport.predictions.reader import PredictionLogReader
    from modelport.registry import Registry

    settings = Settings()
    registry = Registry(settings)
    try:
        reader = PredictionLogReader(settings.resolved_log_uri())
        now = datetime.now(UTC)
        report = run_monitor(
            registry, reader, target, window=window, since=since, until=until, now=now
        )
        if html_path is not None:
            from modelport.presentation.html import monitor_html, write_html

            write_html(monitor_html(report), html_path)
        fired: list[dict[str, Any]] = []
        if rules is not None:
            fired = _alerts(
                rules,
                report,
                registry,
                reader,
                settings,
                target=target,
                window=window,
                since_given=since is not None,
                until=until,
                now=now,
            )
    finally:
        registry.close()
    if as_json:
        data = report.to_dict()
        if rules is not None:
            data["alerts"] = fired
        print_json(data)
        return
    print_monitor_report(report)
    if rules is not None:
        if fired:
            table(
                "Alerts fired",
                ["rule", "version", "values", "actions"],
                [
                    (
                        r["rule"],
                        r["version"] or "",
                        ", ".join(f"{k}={_num(v)}" for k, v in r["values"].items()),
                        ", ".join(
                            f"{o['action']}: {'ok' if o.get('ok') else o.get('error', 'failed')}"
                            for o in r["outcomes"]
                        ),
                    )
                    for r in fired
                ],
            )
        else:
            console.print("[green]no alert fired[/]")
    if html_path is not None:
        console.print(f"HTML report: {html_path}")


# -- modelport feedback --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """NumPy scalars as Python values; whole floats as ints (1.0 -> 1, as CSV reads them).

    A table cannot tell a missing cell from NaN: both are a missing label (None).
    """
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
