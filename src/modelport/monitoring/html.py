"""Self-contained HTML reports for a drift comparison and a monitor run.

One file, nothing fetched: the style is inline and every plot is a PNG drawn by
matplotlib (Agg, no display needed) embedded as a ``data:`` URI, so the file can be
mailed, attached to a ticket or opened offline.

* :func:`drift_html` — ``modelport drift REF CUR --html``: verdict, the drift
  table, and per feature the reference distribution against the current one.
* :func:`monitor_html` — ``modelport monitor ... --html``: per version the same,
  plus drift over time, performance over time (when feedback exists) and traffic.

Distributions: a numeric feature is drawn as densities on bins made of the
reference profile's quantile edges (every fourth percentile, so each reference
bin holds ~4% of the rows); current values below or above the reference range
get a bin of their own. A categorical feature is drawn as frequencies side by
side; categories the reference never saw are red and hatched.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelport.errors import DataError, MissingExtraError
from modelport.monitoring._columns import category_counts, float_values, sorted_finite
from modelport.monitoring.profile import (
    CategoricalProfile,
    FeatureProfile,
    NumericProfile,
    Profile,
    build_profile,
)
from modelport.monitoring.report import DriftReport, FeatureDrift

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from modelport.monitoring.monitor import MonitorReport, VersionMonitor

REFERENCE = "#4c6ef5"
CURRENT = "#f08c00"
UNSEEN = "#e03131"
OK = "#2b8a3e"
GRID = "#dee2e6"
INK = "#212529"
MUTED = "#868e96"

#: categories drawn per categorical feature (the rest are summed as "(rest)")
MAX_BARS = 15
#: bins per numeric feature
NUMERIC_BINS = 25
#: how far past the reference range a plot reaches, in reference ranges: values beyond
#: are counted in the plot's title, not drawn (1e308 next to values near 1 is no picture)
REACH = 1000.0
#: no plotted coordinate is larger: matplotlib's tick and transform arithmetic overflows
#: near the largest float
_LIMIT = 1e300
#: PNG resolution (the page shows the images at about 100 dpi: sharp on high-DPI screens)
_DPI = 130


# -- distributions (pure) ------------------------------------------------------------------


def numeric_distribution(
    profile: NumericProfile, values: Any, bins: int = NUMERIC_BINS
) -> dict[str, Any] | None:
    """Reference and current densities on the reference's quantile bins.

    Returns ``{"kind": "numeric", "left": [...], "right": [...], "reference": [...],
    "current": [...], "below": share, "above": share}`` (densities per unit; the
    shares of current values outside the reference range are also drawn as bins of
    their own when present), or None when either side has no values.
    """
    edges, counts = profile.edges, profile.counts
    current, _ = sorted_finite(float_values(pd.Series(values), "values"))
    if len(edges) < 2 or profile.count == 0 or len(current) == 0:
        return None
    step = max(1, round((len(edges) - 1) / bins))
    index = list(range(0, len(edges), step))
    if index[-1] != len(edges) - 1:
        index.append(len(edges) - 1)
    cut = edges[index]
    cum_ref = np.cumsum(counts)[index].astype(np.float64)
    ref_counts = np.diff(cum_ref)
    ref_counts[0] += cum_ref[0]  # the values equal to the minimum
    cum_cur = np.searchsorted(current, cut, side="right").astype(np.float64)
    below = float(np.searchsorted(current, cut[0], side="left"))
    cur_counts = np.diff(cum_cur)
    cur_counts[0] += cum_cur[0] - below
    above = float(len(current) - cum_cur[-1])
    n_ref, n_cur = float(profile.count), float(len(current))
    reach_lo, reach_hi = _reach(float(cut[0]), float(cut[-1]))
    beyond = float(
        np.searchsorted(current, reach_lo, side="left")
        + len(current)
        - np.searchsorted(current, reach_hi, side="right")
    )
    cut = np.clip(cut, -_LIMIT, _LIMIT)  # differences of clipped edges cannot overflow
    widths = np.diff(cut)
    left, right = list(cut[:-1]), list(cut[1:])
    with np.errstate(divide="ignore", invalid="ignore"):  # zero-width bins: no density
        reference = list(np.nan_to_num(ref_counts / (n_ref * widths), posinf=0.0))
        densities = list(np.nan_to_num(cur_counts / (n_cur * widths), posinf=0.0))
    if below:
        lo = max(float(current[0]), reach_lo)
        left.insert(0, lo)
        right.insert(0, float(cut[0]))
        reference.insert(0, 0.0)
        densities.insert(0, _density(below, n_cur, float(cut[0]) - lo))
    if above:
        hi = min(float(current[-1]), reach_hi)
        left.append(float(cut[-1]))
        right.append(hi)
        reference.append(0.0)
        densities.append(_density(above, n_cur, hi - float(cut[-1])))
    view_lo = max(min(float(edges[1]), float(np.quantile(current, 0.005))), reach_lo)
    view_hi = min(max(float(edges[-2]), float(np.quantile(current, 0.995))), reach_hi)
    return {
        "kind": "numeric",
        "left": [float(v) for v in left],
        "right": [float(v) for v in right],
        "reference": [float(v) for v in reference],
        "current": [float(v) for v in densities],
        "below": below / n_cur,
        "above": above / n_cur,
        "beyond": beyond / n_cur,
        # what to look at: the bulk of both sides, not the longest tail
        "view": [view_lo, view_hi],
    }


def _reach(lo: float, hi: float) -> tuple[float, float]:
    """The part of the line a plot may show: the reference range and REACH ranges around it."""
    span = hi / 2 - lo / 2  # half the range, computed so that it cannot overflow
    scale = 2 * span if span > 0 else max(abs(lo), 1.0)
    extra = min(REACH * scale, _LIMIT)
    return max(lo - extra, -_LIMIT), min(hi + extra, _LIMIT)


def _density(count: float, total: float, width: float) -> float:
    return count / (total * width) if width > 0 and math.isfinite(width) else 0.0


def categorical_distribution(
    profile: CategoricalProfile, values: Any, max_bars: int = MAX_BARS
) -> dict[str, Any] | None:
    """Reference and current shares per category; ``unseen`` marks new categories.

    Categories are ordered by reference share, then new ones by current share; past
    ``max_bars`` the rest are summed into ``"(rest)"``. Shares are of non-missing values.
    """
    counts, _ = category_counts(pd.Series(values))
    n_cur = sum(counts.values())
    if profile.count == 0 or n_cur == 0:
        return None
    ref = {k: v / profile.count for k, v in profile.categories.items()}
    if profile.other:
        ref["(other)"] = profile.other / profile.count
    cur: dict[str, float] = {}
    unseen: set[str] = set()
    for key, count in counts.items():
        if key in profile.categories:
            cur[key] = cur.get(key, 0.0) + count / n_cur
        elif profile.other:
            cur["(other)"] = cur.get("(other)", 0.0) + count / n_cur
        else:
            cur[key] = count / n_cur
            unseen.add(key)
    order = sorted(ref, key=lambda k: -ref[k]) + sorted(unseen, key=lambda k: -cur[k])
    # new categories matter most: keep them in view even when there are many old ones
    keep_new = [k for k in order if k in unseen][: max(1, max_bars // 3)]
    keep_old = [k for k in order if k not in unseen][: max_bars - len(keep_new)]
    shown = keep_old + keep_new
    rest = [k for k in order if k not in shown]
    names = list(shown)
    reference = [ref.get(k, 0.0) for k in shown]
    current = [cur.get(k, 0.0) for k in shown]
    flags = [k in unseen for k in shown]
    if rest:
        names.append("(rest)")
        reference.append(sum(ref.get(k, 0.0) for k in rest))
        current.append(sum(cur.get(k, 0.0) for k in rest))
        flags.append(False)
    return {
        "kind": "categorical",
        "categories": names,
        "reference": reference,
        "current": current,
        "unseen": flags,
    }


def distribution(profile: FeatureProfile, values: Any) -> dict[str, Any] | None:
    if isinstance(profile, NumericProfile):
        return numeric_distribution(profile, values)
    if isinstance(profile, CategoricalProfile):
        return categorical_distribution(profile, values)
    return None


# -- plotting -------------------------------------------------------------------------------


def _figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError("matplotlib", "report") from None
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


def _starts(entries: Sequence[dict[str, Any]]) -> list[datetime]:
    return [
        pd.Timestamp(e["start"]).tz_convert("UTC").tz_localize(None).to_pydatetime()
        for e in entries
    ]


def _middles(starts: Sequence[datetime], window_seconds: float) -> list[datetime]:
    half = pd.Timedelta(seconds=window_seconds / 2).to_pytimedelta()
    return [s + half for s in starts]


def plot_drift_over_time(
    entries: Sequence[dict[str, Any]], window_seconds: float, psi_threshold: float
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


def plot_performance(entries: Sequence[dict[str, Any]], task: str, window_seconds: float) -> str:
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


def plot_traffic(entries: Sequence[dict[str, Any]], window_seconds: float) -> str:
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


# -- HTML -----------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f1f3f5;color:#212529;
 font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 60px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:34px 0 12px}
h3{font-size:15px;margin:0 0 8px}
.sub{color:#868e96;margin:0 0 18px}
.verdict{border-radius:10px;padding:16px 20px;margin:16px 0;font-size:16px;
 border-left:6px solid}
.verdict.bad{background:#fff5f5;border-color:#e03131;color:#c92a2a}
.verdict.good{background:#ebfbee;border-color:#2b8a3e;color:#2b8a3e}
.verdict.none{background:#f8f9fa;border-color:#adb5bd;color:#495057}
.verdict b{font-size:18px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{background:#fff;border-radius:10px;padding:12px 16px;min-width:150px;
 box-shadow:0 1px 2px rgba(0,0,0,.06)}
.card .k{color:#868e96;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600}
.panel{background:#fff;border-radius:10px;padding:16px 18px;margin:12px 0;
 box-shadow:0 1px 2px rgba(0,0,0,.06)}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#495057;font-weight:600;border-bottom:2px solid #dee2e6;
 padding:7px 10px;white-space:nowrap}
td{border-bottom:1px solid #f1f3f5;padding:6px 10px;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drift td{background:#fff5f5} tr.drift td:first-child{border-left:3px solid #e03131}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600}
.badge.bad{background:#ffe3e3;color:#c92a2a} .badge.good{background:#d3f9d8;color:#2b8a3e}
.badge.new{background:#e03131;color:#fff}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:14px}
.feature{background:#fff;border-radius:10px;padding:12px 14px;
 box-shadow:0 1px 2px rgba(0,0,0,.06)}
.feature.drift{box-shadow:0 0 0 2px #ffa8a8}
.feature .stats{color:#868e96;font-size:12px;margin:2px 0 6px}
img{max-width:100%;height:auto;display:block}
.legend{color:#868e96;font-size:12px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 4px -1px 10px}
.notes{color:#e67700;font-size:13px;margin:8px 0}
footer{color:#adb5bd;font-size:12px;margin-top:40px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "&ndash;"
    value = float(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.2e}"
    return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"


def _page(title: str, subtitle: str, body: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{_e(title)}</h1><p class="sub">{subtitle}</p>{body}'
        f"<footer>Generated by modelport on {stamp}.</footer></main></body></html>\n"
    )


def _verdict(report: DriftReport) -> str:
    drifted = report.drifted_features
    n = len(report.features)
    if report.drift:
        parts = []
        if drifted:
            parts.append(
                f"{len(drifted)} of {n} features drifted: "
                + ", ".join(f"<b>{_e(d)}</b>" for d in drifted)
            )
        if report.predictions is not None and report.predictions.drift:
            parts.append("the <b>predictions</b> drifted")
        return f'<div class="verdict bad"><b>Drift detected</b> — {"; ".join(parts)}</div>'
    return (
        f'<div class="verdict good"><b>No drift</b> — none of the {n} features '
        "(nor the predictions) changed enough to alarm</div>"
    )


def _why(entry: FeatureDrift) -> str:
    if not entry.drift:
        return '<span class="badge good">ok</span>'
    reasons = []
    if entry.distribution_drift:
        reasons.append("distribution")
    if entry.missing_drift:
        reasons.append("missing rate")
    return f'<span class="badge bad">drift: {_e(", ".join(reasons))}</span>'


def drift_table(report: DriftReport) -> str:
    """The drift table: one row per feature (and the predictions), drifted rows marked."""
    entries = list(report.features.values())
    if report.predictions is not None:
        entries.append(report.predictions)
    rows = []
    for f in sorted(entries, key=lambda f: (not f.drift, -(f.effect or 0.0))):
        name = _e(f.name) if f is not report.predictions else "<i>predictions</i>"
        unseen = ""
        if f.n_unseen_categories:
            shown = ", ".join(_e(c) for c in f.unseen_categories[:5])
            unseen = (
                f' <span class="badge new">new: {shown}'
                f"{' …' if f.n_unseen_categories > 5 else ''}</span>"
            )
        rows.append(
            f'<tr class="{"drift" if f.drift else ""}"><td><b>{name}</b>{unseen}</td>'
            f"<td>{_e(f.kind)}</td><td>{_e(f.test)}</td>"
            f'<td class="num">{_num(f.statistic)}</td>'
            f'<td class="num">{_num(f.p_value_adjusted)}</td>'
            f'<td class="num">{_num(f.effect)}</td><td class="num">{_num(f.psi)}</td>'
            f'<td class="num">{f.missing_rate_reference:.1%} → {f.missing_rate_current:.1%}</td>'
            f"<td>{_why(f)}</td></tr>"
        )
    return (
        '<div class="panel"><table><thead><tr><th>feature</th><th>kind</th><th>test</th>'
        "<th>statistic</th><th>p-value (adj.)</th><th>effect</th><th>PSI</th>"
        "<th>missing</th><th>verdict</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        '<p class="legend">effect: KS statistic D (numeric) or Jensen-Shannon distance '
        "(categorical); p-values adjusted for multiple testing ("
        f"{_e(report.config.correction)}); a feature drifts when significant at "
        f"&alpha;={report.config.alpha} and the effect is large enough.</p></div>"
    )


def distributions_section(report: DriftReport, profile: Profile, current: pd.DataFrame) -> str:
    """Per-feature reference-vs-current plots, drifted features first."""
    cards = []
    names = sorted(
        profile.features,
        key=lambda n: (not (n in report.features and report.features[n].drift), n),
    )
    for name in names:
        if name not in current.columns:
            continue
        data = distribution(profile.features[name], current[name])
        entry = report.features.get(name)
        drifted = entry is not None and entry.drift
        stats = ""
        if entry is not None:
            stats = (
                f"{_e(entry.test)} {_num(entry.statistic)} · effect {_num(entry.effect)}"
                f" · PSI {_num(entry.psi)} · missing {entry.missing_rate_reference:.1%}"
                f" → {entry.missing_rate_current:.1%}"
            )
        image = (
            f'<img alt="distribution of {_e(name)}" src="{plot_distribution(name, data)}">'
            if data is not None
            else '<p class="legend">no values on one side</p>'
        )
        cards.append(
            f'<div class="feature{" drift" if drifted else ""}"><h3>{_e(name)} '
            f"{_why(entry) if entry is not None else ''}</h3>"
            f'<div class="stats">{stats}</div>{image}</div>'
        )
    legend = (
        '<p class="legend">'
        f'<span class="sw" style="background:{REFERENCE};opacity:.5"></span>reference'
        f'<span class="sw" style="background:{CURRENT}"></span>current'
        f'<span class="sw" style="background:{UNSEEN}"></span>category the reference never saw'
        "</p>"
    )
    return (
        f'<h2>Distributions: reference vs current</h2>{legend}<div class="grid">'
        + "".join(cards)
        + "</div>"
    )


def _cards(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{v}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def drift_html(
    report: DriftReport,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    categorical: Sequence[str] = (),
    title: str = "Drift report",
    subtitle: str = "",
) -> str:
    """The HTML page for ``modelport drift REF CUR``: verdict, table, distributions."""
    if not isinstance(reference, pd.DataFrame) or reference.empty:
        raise DataError("the reference data has no rows", hint="pass at least one row")
    profile = build_profile(reference[list(report.features)], categorical=list(categorical))
    body = _verdict(report) + _cards(
        [
            ("reference rows", f"{report.n_reference:,}"),
            ("current rows", f"{report.n_current:,}"),
            ("features", str(len(report.features))),
            ("drifted", str(len(report.drifted_features))),
        ]
    )
    body += "<h2>Drift by feature</h2>" + drift_table(report)
    body += distributions_section(report, profile, current)
    return _page(title, _e(subtitle) or f"{report.method} tests", body)


def _version_section(report: MonitorReport, entry: VersionMonitor) -> str:
    aliases = f" ({', '.join(entry.aliases)})" if entry.aliases else ""
    parts = [f"<h2>{_e(entry.ref)}{_e(aliases)}</h2>"]
    if entry.drift is not None:
        parts.append(_verdict(entry.drift))
    else:
        parts.append(
            '<div class="verdict none"><b>Drift not tested</b> — no reference profile</div>'
        )
    traffic = entry.traffic
    cards = [
        ("predictions", f"{traffic['count']:,}"),
        ("with feedback", f"{traffic['labelled']:,}"),
        ("latency p95", f"{_num(traffic['latency_ms']['p95'])} ms"),
    ]
    metrics = (entry.performance or {}).get("metrics") or {}
    for key in ("accuracy", "roc_auc", "mae", "rmse"):
        if metrics.get(key) is not None:
            cards.append((key, _num(metrics[key])))
    parts.append(_cards(cards))
    if entry.notes:
        parts.append("".join(f'<p class="notes">⚠ {_e(n)}</p>' for n in entry.notes))
    if entry.drift is not None:
        parts.append("<h2>Drift by feature</h2>" + drift_table(entry.drift))
    if entry.drift_over_time:
        image = plot_drift_over_time(
            entry.drift_over_time,
            report.window_seconds,
            entry.drift.config.psi_threshold if entry.drift is not None else 0.2,
        )
        parts.append(
            f"<h2>Drift over time (windows of {_e(report.window)})</h2>"
            f'<div class="panel"><img alt="drift over time" src="{image}"></div>'
        )
    if entry.performance_over_time:
        image = plot_performance(entry.performance_over_time, entry.task, report.window_seconds)
        parts.append(
            f"<h2>Performance over time ({_e(entry.task)})</h2>"
            f'<div class="panel"><img alt="performance over time" src="{image}"></div>'
        )
    if entry.traffic_over_time:
        image = plot_traffic(entry.traffic_over_time, report.window_seconds)
        parts.append(f'<h2>Traffic</h2><div class="panel"><img alt="traffic" src="{image}"></div>')
    if entry.drift is not None and entry.profile is not None and entry.current is not None:
        parts.append(distributions_section(entry.drift, entry.profile, entry.current))
    return "".join(parts)


def monitor_html(report: MonitorReport, *, title: str | None = None) -> str:
    """The HTML page for ``modelport monitor``: one section per version."""
    first = min(v.traffic["first"] for v in report.versions)
    last = max(v.traffic["last"] for v in report.versions)
    subtitle = (
        f"{_e(report.target)} · traffic from {_e(first[:16].replace('T', ' '))} to "
        f"{_e(last[:16].replace('T', ' '))} UTC · windows of {_e(report.window)}"
    )
    drifted = [v.ref for v in report.versions if v.drift is not None and v.drift.drift]
    if drifted:
        head = (
            f'<div class="verdict bad"><b>Drift detected</b> in {", ".join(map(_e, drifted))}</div>'
        )
    elif any(v.drift is not None for v in report.versions):
        head = '<div class="verdict good"><b>No drift</b> in any version</div>'
    else:
        head = '<div class="verdict none"><b>Drift not tested</b></div>'
    if len(report.versions) > 1:
        body = head + "".join(_version_section(report, v) for v in report.versions)
    else:
        body = _version_section(report, report.versions[0])
    return _page(title or f"Monitoring: {report.model}", subtitle, body)


def write_html(text: str, path: str | Path) -> Path:
    """Write the page; DataError when the file cannot be written."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write {target}: {exc}", hint="check the path") from exc
    return target


__all__ = [
    "categorical_distribution",
    "distribution",
    "drift_html",
    "monitor_html",
    "numeric_distribution",
    "write_html",
]
