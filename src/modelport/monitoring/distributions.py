"""The distributions behind a report's plots: plain numbers from a profile and current values.

A numeric feature becomes densities on bins made of the reference profile's quantile edges
(every fourth percentile, so each reference bin holds ~4% of the rows); current values below
or above the reference range get a bin of their own. A categorical feature becomes
frequencies side by side, with the categories the reference never saw marked. Pure: no
plotting here (that is :mod:`modelport.presentation.plots`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from modelport.monitoring._columns import category_counts, float_values, sorted_finite
from modelport.monitoring.profile import CategoricalProfile, FeatureProfile, NumericProfile

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
