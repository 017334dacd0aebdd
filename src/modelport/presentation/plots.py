"""Plots for the reports: matplotlib (Agg, no display) drawn to PNG ``data:`` URIs.

Everything drawn here is computed elsewhere (:mod:`modelport.monitoring.distributions`, the
monitor's series); this module only turns numbers into pictures.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from modelport.monitoring.results import DriftWindow, PerformanceWindow, TrafficWindow

REFERENCE = "#4c6ef5"
CURRENT = "#f08c00"
UNSEEN = "#e03131"
OK = "#2b8a3e"
GRID = "#dee2e6"
INK = "#212529"
MUTED = "#868e96"
#: PNG resolution (the page shows the images at about 100 dpi: sharp on high-DPI screens)
_DPI = 130


def _figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    # matplotlib is a dependency, imported on first plot: it costs a third of a second
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained" if constrained else None)
    fig.patch.set_facecolor("white")
    return fig


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#adb5bd")
    ax.tick_params(colors="#495057", labelsize=8)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _short(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.4g}"


def plot_distribution(name: str, data: dict[str, Any]) -> str:
    """One feature's reference-vs-current plot as a PNG data URI."""
    fig = _figure(5.2, 2.5, constrained=False)
    bottom = 0.13
    if data["kind"] == "categorical" and len(data["categories"]) > 4:  # rotated labels
        bottom += 0.018 * min(18, max(len(n) for n in data["categories"]))
    fig.subplots_adjust(left=0.13, right=0.98, top=0.9, bottom=bottom)
    ax = fig.add_subplot()
    _style(ax)
    if data["kind"] == "numeric":
        left, right = np.array(data["left"]), np.array(data["right"])
        widths = right - left
        ax.bar(
            left,
            data["reference"],
            width=widths,
            align="edge",
            color=REFERENCE,
            alpha=0.35,
            edgecolor=REFERENCE,
            linewidth=0.4,
            label="reference",
        )
        edges = np.append(left, right[-1])
        ax.stairs(data["current"], edges, color=CURRENT, linewidth=2.0, label="current")
        ax.set_ylabel("density", fontsize=8, color="#495057")
        ax.xaxis.set_major_formatter(lambda x, _pos: _short(x))
        ax.yaxis.set_major_formatter(lambda y, _pos: f"{y:.2g}")
        lo, hi = data["view"]
        if hi > lo:
            pad = hi * 0.04 - lo * 0.04  # not (hi - lo) * 0.04, which can overflow
            ax.set_xlim(lo - pad, hi + pad)
        outside = data["below"] + data["above"]
        beyond = data.get("beyond", 0.0)
        if outside >= 0.01 or beyond:
            title = f"{outside:.1%} of current values outside the reference range"
            if beyond:
                title += f" ({beyond:.1%} too far out to draw)"
            ax.set_title(title, fontsize=8, color=UNSEEN, loc="left")
    else:
        names = data["categories"]
        x = np.arange(len(names))
        ax.bar(x - 0.2, data["reference"], width=0.4, color=REFERENCE, alpha=0.8, label="reference")
        colours = [UNSEEN if new else CURRENT for new in data["unseen"]]
        bars = ax.bar(x + 0.2, data["current"], width=0.4, color=colours, label="current")
        for bar, new in zip(bars, data["unseen"], strict=True):
            if new:
                bar.set_hatch("///")
                bar.set_edgecolor("white")
        ax.set_xticks(x)
        labels = [n if len(n) <= 18 else n[:17] + "…" for n in names]
        ax.set_xticklabels(
            labels,
            rotation=30 if len(names) > 4 else 0,
            ha="right" if len(names) > 4 else "center",
            fontsize=8,
        )
        for tick, new in zip(ax.get_xticklabels(), data["unseen"], strict=True):
            if new:
                tick.set_color(UNSEEN)
                tick.set_fontweight("bold")
        ax.set_ylabel("share", fontsize=8, color="#495057")
        ax.yaxis.set_major_formatter(lambda y, _pos: f"{y:.0%}")
        if any(data["unseen"]):
            from matplotlib.patches import Patch

            handles, texts = ax.get_legend_handles_labels()
            handles.append(Patch(facecolor=UNSEEN, hatch="///", edgecolor="white"))
            texts.append("new category")
            ax.legend(handles, texts, fontsize=8, frameon=False)
    if not ax.get_legend():
        ax.legend(fontsize=8, frameon=False)
    return _png(fig)


def _time_axis(ax: Any, starts: Sequence[datetime], window_seconds: float) -> None:
    """Dates on x, the view from the first window's start to the last window's end."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlim(
        mdates.date2num(starts[0]),
        mdates.date2num(starts[-1]) + window_seconds / 86400,
    )


def _starts(entries: Sequence[Mapping[str, Any]]) -> list[datetime]:
    return [
        pd.Timestamp(e["start"]).tz_convert("UTC").tz_localize(None).to_pydatetime()
        for e in entries
    ]


def _middles(starts: Sequence[datetime], window_seconds: float) -> list[datetime]:
    half = pd.Timedelta(seconds=window_seconds / 2).to_pytimedelta()
    return [s + half for s in starts]


def plot_drift_over_time(
    entries: Sequence[DriftWindow], window_seconds: float, psi_threshold: float
) -> str:
    """Drift share per window (bars, red when the window drifted) and a PSI heatmap."""
    import matplotlib.dates as mdates

    starts = _starts(entries)
    days = window_seconds / 86400
    features = sorted({name for e in entries for name in e["features"]})
    psi = np.array(
        [[(e["features"].get(f) or {}).get("psi") or 0.0 for e in entries] for f in features]
    ).reshape(len(features), len(entries))
    rank = np.argsort(-psi.max(axis=1), kind="stable")[:12]
    shown = [features[i] for i in rank]
    matrix = psi[rank]
    fig = _figure(10.5, 2.6 + 0.24 * max(len(shown), 1))
    top, bottom = fig.subplots(
        2, 1, height_ratios=[1.3, 0.8 + 0.24 * max(len(shown), 1)], sharex=True
    )
    _style(top)
    colours = [UNSEEN if e["drift"] else OK for e in entries]
    heights = [max(e["drift_share"], 0.015) for e in entries]  # a sliver shows a clean window
    top.bar(starts, heights, width=days * 0.9, color=colours, align="edge")
    top.set_ylim(0, 1)
    top.set_ylabel("drifted\nfeatures", fontsize=8, color="#495057")
    top.yaxis.set_major_formatter(lambda y, _pos: f"{y:.0%}")
    top.set_title(
        "share of features drifted per window (red: the window drifted)",
        fontsize=9,
        loc="left",
        color="#495057",
    )
    vmax = max(float(matrix.max()) if matrix.size else 0.0, psi_threshold * 2)
    x0 = mdates.date2num(starts[0])
    x1 = mdates.date2num(starts[-1]) + days
    image = bottom.imshow(
        matrix if matrix.size else np.zeros((1, len(entries))),
        aspect="auto",
        cmap="YlOrRd",
        vmin=0,
        vmax=vmax,
        extent=(x0, x1, max(len(shown), 1) - 0.5, -0.5),
        interpolation="nearest",
    )
    bottom.set_yticks(range(len(shown)))
    bottom.set_yticklabels(shown, fontsize=8)
    bottom.tick_params(labelsize=8)
    for i, feature in enumerate(shown):
        for j, e in enumerate(entries):
            if (e["features"].get(feature) or {}).get("drift"):
                bottom.plot(x0 + (j + 0.5) * days, i, marker="o", markersize=4, color=INK)
    bottom.set_title(
        "PSI per feature and window (● the feature drifted)",
        fontsize=9,
        loc="left",
        color="#495057",
    )
    colorbar = fig.colorbar(image, ax=[top, bottom], pad=0.01, fraction=0.025)
    colorbar.set_label("PSI", fontsize=8)
    colorbar.ax.tick_params(labelsize=7)
    _time_axis(bottom, starts, window_seconds)
    return _png(fig)


_PERFORMANCE_METRICS = {
    "classification": ["accuracy", "roc_auc", "f1", "precision", "recall"],
    "regression": ["mae", "rmse", "r2"],
}


def plot_performance(entries: Sequence[PerformanceWindow], task: str, window_seconds: float) -> str:
    """Live metrics per window (lines at the window middles)."""
    starts = _starts(entries)
    middles = _middles(starts, window_seconds)
    fig = _figure(10.5, 2.8)
    ax = fig.add_subplot()
    _style(ax)
    palette = ["#1971c2", "#e8590c", "#2f9e44", "#9c36b5", "#c2255c"]
    metrics = [m for m in _PERFORMANCE_METRICS[task] if any(e.get(m) is not None for e in entries)]
    for colour, metric in zip(palette, metrics, strict=False):
        values = [np.nan if e.get(metric) is None else e[metric] for e in entries]
        ax.plot(
            middles, values, marker="o", markersize=3.5, linewidth=1.8, color=colour, label=metric
        )
    if task == "classification":
        ax.set_ylim(0, 1.02)
    _time_axis(ax, starts, window_seconds)
    ax.legend(fontsize=8, frameon=False, ncols=max(len(metrics), 1), loc="lower left")
    ax.set_ylabel("metric", fontsize=8, color="#495057")
    return _png(fig)


def plot_traffic(entries: Sequence[TrafficWindow], window_seconds: float) -> str:
    """Predictions per window (bars) and latency p50 / p95 (lines)."""
    starts = _starts(entries)
    middles = _middles(starts, window_seconds)
    days = window_seconds / 86400
    fig = _figure(10.5, 2.5)
    ax = fig.add_subplot()
    _style(ax)
    ax.bar(
        starts,
        [e["count"] for e in entries],
        width=days * 0.9,
        align="edge",
        color="#a5d8ff",
        label="predictions",
    )
    ax.bar(
        starts,
        [e["labelled"] for e in entries],
        width=days * 0.9,
        align="edge",
        color="#1c7ed6",
        label="with feedback",
    )
    ax.set_ylabel("predictions", fontsize=8, color="#495057")
    ax.set_ylim(0, max(e["count"] for e in entries) * 1.35)
    twin = ax.twinx()
    latencies = []
    for key, style in (("latency_p50", "-"), ("latency_p95", "--")):
        values = [np.nan if e[key] is None else e[key] for e in entries]
        latencies += [v for v in values if math.isfinite(v)]
        twin.plot(
            middles,
            values,
            style,
            color=INK,
            linewidth=1.4,
            marker="o",
            markersize=3,
            label=key.replace("latency_", "latency "),
        )
    twin.set_ylabel("latency (ms)", fontsize=8, color="#495057")
    twin.tick_params(labelsize=8, colors="#495057")
    twin.spines["top"].set_visible(False)
    twin.set_ylim(0, (max(latencies) if latencies else 1.0) * 1.35 or 1.0)
    _time_axis(ax, starts, window_seconds)
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = twin.get_legend_handles_labels()
    ax.legend(
        handles + more, labels + more_labels, fontsize=8, frameon=False, ncols=4, loc="upper left"
    )
    return _png(fig)
