"""Terminal renderings: Rich tables of drift, monitor reports and fired alerts.

The CLI and the demo print through here; nothing here computes a statistic. Tables
printed to a file or a pipe take the width their content needs (never cut with "…").
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from modelport.monitoring.labels import LabelCheck
    from modelport.monitoring.report import DriftReport, FeatureDrift
    from modelport.monitoring.results import MonitorReport


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
    show(grid, out or Console())


def show(grid: Table, out: Console) -> None:
    """Print a table; to a file or a pipe, as wide as its content.

    A terminal's width is real: the table wraps to fit it. A file has no width, and
    Rich's stand-in (80 columns) would cut values short with "…", which a script reading
    the output cannot undo. So there, this one table is rendered at the width its
    content needs, and nothing else (rules, messages) is widened.
    """
    if out.is_terminal:
        out.print(grid)
        return
    for column in grid.columns:
        column.no_wrap = True
        column.overflow = "fold"  # never "…"; folding cannot happen at the natural width
    unbounded = out.options.update(width=sys.maxsize // 4, max_width=sys.maxsize // 4)
    width = Measurement.get(out, unbounded, grid).maximum
    for line in out.render_lines(grid, out.options.update(width=max(width, 1)), pad=False):
        text = Text.assemble(*((segment.text, segment.style or "") for segment in line))
        text.rstrip()  # the title is padded to the table's width
        out.print(text, soft_wrap=True, highlight=False)


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


def print_drift_table(report: DriftReport, title: str, out: Console) -> None:
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
    show(grid, out)


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


def print_monitor_report(report: MonitorReport, out: Console) -> None:
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
        if entry.feedback_check is not None:
            print_feedback_check(entry.feedback_check, out)
        for note in entry.notes:
            out.print(f"[yellow]note:[/] {note}")


def print_feedback_check(check: LabelCheck, out: Console) -> None:
    """One line: the verdict on the feedback labels, and why."""
    colour = {"ok": "green", "suspicious": "bold red", "no_data": "yellow"}[check.status]
    label = {"ok": "feedback ok", "suspicious": "feedback suspicious", "no_data": "feedback"}
    out.print(f"[{colour}]{label[check.status]}[/]: {check.reason}", highlight=False)


def print_alerts(fired: Sequence[dict[str, Any]], out: Console) -> None:
    """The alerts that fired (journal entries), or a line saying none did."""
    if not fired:
        out.print("[green]no alert fired[/]")
        return
    table(
        "Alerts fired",
        ["rule", "version", "values", "actions"],
        [
            (
                r["rule"],
                r.get("version") or "",
                ", ".join(f"{k}={_num(v)}" for k, v in r["values"].items()),
                ", ".join(
                    f"{o['action']}"
                    + (f" → v{o['to_version']}" if "to_version" in o else "")
                    + (": ok" if o.get("ok") else f": {o.get('error', 'failed')}")
                    for o in r["outcomes"]
                ),
            )
            for r in fired
        ],
        out,
    )
