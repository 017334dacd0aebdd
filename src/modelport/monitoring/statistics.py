"""Pure, vectorised two-sample statistics for drift detection.

Every function takes plain NumPy arrays and returns arrays; row ``i`` of a 2-D
input is feature ``i``, so one call tests all features at once. Nothing here
knows about DataFrames, profiles or verdicts (see :mod:`.drift`).

Kolmogorov-Smirnov p-values use the two-sample asymptotic distribution as
``scipy.stats.ks_2samp(method="asymp")`` does: the one-sample distribution of
D (``scipy.stats.kstwo``) at the effective sample size
``round(n_ref * n_cur / (n_ref + n_cur))``, replaced by its Stephens-corrected
limit above an effective n of 1,000 (see :func:`ks_pvalue`). When D is only known at some points
(the binned path), the D used is the largest difference at those points, a
lower bound of the true statistic; the p-value is then conservative (never
smaller than the unbinned one would be).

Chi-square is the two-sample test of homogeneity (a 2 x k contingency table,
``k - 1`` degrees of freedom), not a goodness-of-fit test that takes the
reference frequencies as exact: the reference is itself a sample, often ten
times smaller than the current data, and treating its frequencies as exact
inflates the statistic by about ``1 + n_cur / n_ref`` and alarms on noise. As
n_ref grows the two agree.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

# scipy is imported inside the functions that use it: a server imports this module on
# its start path, and scipy costs it ~0.3 s and ~30 MB for statistics it runs once per
# monitoring or canary poll, never per request.


Correction = Literal["holm", "bh", "none"]

#: proportions are floored at this value in PSI so that empty bins stay finite
PSI_EPSILON = 1e-4


#: above this effective n, KS p-values use Stephens' formula instead of scipy's kstwo
KSTWO_MAX_N = 1000


def ks_pvalue(d: ArrayLike, n_ref: ArrayLike, n_cur: ArrayLike) -> np.ndarray:
    """Two-sided asymptotic p-value of the two-sample KS statistic d (NaN: a side is empty).

    The effective n is ``round(n_ref * n_cur / (n_ref + n_cur))``, as in
    ``scipy.stats.ks_2samp(method="asymp")``. Up to ``KSTWO_MAX_N`` the p-value is
    ``scipy.stats.kstwo.sf(d, n)``, identical to scipy's. Beyond, kstwo takes 1 ms
    to 0.5 s per value, so the limiting Kolmogorov distribution with Stephens'
    (1970) small-sample correction is used: ``kolmogorov((sqrt(n) + 0.12 +
    0.11 / sqrt(n)) * d)``. Against kstwo its relative error is at most 3% for
    p > 1e-6 (absolute at most 0.004), shrinking as n grows (0.6% at n = 50,000).
    """
    from scipy import special, stats

    d, n_ref, n_cur = np.broadcast_arrays(
        np.asarray(d, dtype=np.float64),
        np.asarray(n_ref, dtype=np.float64),
        np.asarray(n_cur, dtype=np.float64),
    )
    big = np.maximum(n_ref, n_cur)
    small = np.minimum(n_ref, n_cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        en = np.round(big * small / (big + small))
    p = np.full(d.shape, np.nan)
    exact = (en >= 1) & (en <= KSTWO_MAX_N)
    if exact.any():
        p[exact] = stats.kstwo.sf(d[exact], en[exact])
    large = en > KSTWO_MAX_N
    root = np.sqrt(en[large])
    p[large] = special.kolmogorov((root + 0.12 + 0.11 / root) * d[large])
    return np.asarray(np.clip(p, 0.0, 1.0))


def ks_statistic(cdf_ref: np.ndarray, cdf_cur: np.ndarray) -> np.ndarray:
    """max |CDF_ref - CDF_cur| over the evaluation points (the last axis)."""
    return np.asarray(np.max(np.abs(cdf_ref - cdf_cur), axis=-1, initial=0.0))


def ks_wasserstein_sorted(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """Exact two-sample KS statistic, its asymptotic p-value and the 1-Wasserstein distance.

    One merge of the sorted samples serves both: KS is the largest |F_ref - F_cur| after
    the last copy of each distinct value, W1 the integral of |F_ref - F_cur| between
    consecutive merged values. Match ``scipy.stats.ks_2samp`` and
    ``scipy.stats.wasserstein_distance``.

    The merge is a stable argsort of the two concatenated sorted runs: Timsort finds two
    runs and merges them, in linear time and about 3x faster than binary-searching one
    sample in the other. The gap is kept in integer units of 1 / (n_ref * n_cur), exact at
    any n. At a million rows a side the arithmetic is cheap and fresh arrays are not (each
    costs its page faults), so the passes after the merge work in place in two buffers.
    """
    n_ref, n_cur = len(ref), len(cur)
    if n_ref == 0 or n_cur == 0:
        return 0.0, float("nan"), float("nan")
    values = np.concatenate([ref, cur])
    order = np.argsort(values, kind="stable")
    merged = values[order]
    # +n_cur after each reference value, -n_ref after each current one: F_ref - F_cur
    gap = (order < n_ref).astype(np.int64)
    gap *= n_ref + n_cur
    gap -= n_ref
    np.cumsum(gap, out=gap)
    np.abs(gap, out=gap)
    distinct = merged[1:] != merged[:-1]
    if distinct.all():  # no ties (continuous data): every position is a last copy
        largest = int(gap.max())
    else:
        largest = max(int(gap[:-1][distinct].max(initial=0)), int(gap[-1]))
    widths = values[:-1]  # the concatenation is free again: reuse it
    np.subtract(merged[1:], merged[:-1], out=widths)
    np.multiply(widths, gap[:-1], out=widths)
    scale = float(n_ref) * float(n_cur)
    d = largest / scale
    return d, float(ks_pvalue(d, n_ref, n_cur)), float(widths.sum()) / scale


def ks_2samp_sorted(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Exact two-sample KS statistic and asymptotic p-value of two sorted 1-D samples."""
    d, p, _ = ks_wasserstein_sorted(ref, cur)
    return d, p


def wasserstein_sorted(ref: np.ndarray, cur: np.ndarray) -> float:
    """Exact 1-Wasserstein distance of two sorted 1-D samples."""
    return ks_wasserstein_sorted(ref, cur)[2]


def wasserstein_binned(ref_cdf: np.ndarray, ref_means: np.ndarray, cur_sorted: np.ndarray) -> float:
    """1-Wasserstein distance between a binned reference and a raw sorted sample.

    W1 is the integral over u in (0, 1] of |Q_ref(u) - Q_cur(u)|, Q the quantile
    functions. The reference bin i covers u in (ref_cdf[i-1], ref_cdf[i]] and its
    mean ``ref_means[i]`` gives the integral of Q_ref there exactly; the integral of
    Q_cur over the same range comes from the current values' prefix sums. The
    result sums |difference of the integrals| per bin: exact unless the quantile
    functions cross inside a bin (then slightly low), so exact for a pure shift and
    unaffected by long tails.
    """
    n = len(cur_sorted)
    if n == 0 or len(ref_cdf) == 0:
        return float("nan")
    # W1 scales with the values: huge ones (1e308) are summed scaled, so nothing overflows
    scale = max(float(np.max(np.abs(cur_sorted[[0, -1]]))), float(np.max(np.abs(ref_means))))
    if scale > 1e150 and math.isfinite(scale):
        rescaled = wasserstein_binned(ref_cdf, ref_means / scale, cur_sorted / scale)
        return rescaled * scale  # a Python float: beyond the float range it is inf, quietly
    # integral of Q_cur from 0 to u = (sum of the first floor(u n) values + a fraction
    # of the next one) / n; the whole values are summed per bin in one pass
    position = np.asarray(ref_cdf, dtype=np.float64) * n
    whole = np.minimum(np.floor(position).astype(np.int64), n)
    starts = np.concatenate([[0], whole[:-1]])
    sums = np.add.reduceat(cur_sorted, np.minimum(starts, n - 1))
    sums[starts >= whole] = 0.0  # empty segments (reduceat gives the start value)
    partial = (position - whole) * cur_sorted[np.minimum(whole, n - 1)]
    cur_integral = np.diff((np.cumsum(sums) + partial) / n, prepend=0.0)
    ref_integral = np.diff(ref_cdf, prepend=0.0) * ref_means
    return float(np.sum(np.abs(ref_integral - cur_integral)))


def psi(p_ref: np.ndarray, p_cur: np.ndarray, epsilon: float = PSI_EPSILON) -> np.ndarray:
    """Population stability index sum((q - p) * ln(q / p)) over the last axis.

    Proportions below ``epsilon`` are raised to it, so a bin empty on one side adds
    a large but finite term.
    """
    p = np.maximum(p_ref, epsilon)
    q = np.maximum(p_cur, epsilon)
    return np.asarray(np.sum((q - p) * np.log(q / p), axis=-1))


def js_distance(p_ref: np.ndarray, p_cur: np.ndarray, base: float = 2.0) -> np.ndarray:
    """Jensen-Shannon distance (the square root of the divergence) over the last axis.

    Inputs are normalised to sum to one. With base 2 the distance lies in [0, 1];
    matches ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
    """
    from scipy import special

    p = p_ref / np.sum(p_ref, axis=-1, keepdims=True)
    q = p_cur / np.sum(p_cur, axis=-1, keepdims=True)
    m = (p + q) / 2
    divergence = (
        np.sum(special.rel_entr(p, m), axis=-1) + np.sum(special.rel_entr(q, m), axis=-1)
    ) / 2
    return np.asarray(np.sqrt(np.maximum(divergence, 0.0) / np.log(base)))


def chi_square_two_sample(
    ref_counts: np.ndarray, cur_counts: np.ndarray
) -> tuple[float, int, float]:
    """Pearson chi-square test that two count vectors come from one distribution.

    The 2 x k contingency test of homogeneity (``chi2_contingency`` without Yates'
    correction); cells empty in both samples are dropped. Returns the statistic,
    the degrees of freedom and the p-value (1.0 when there is one category or
    fewer).
    """
    from scipy import stats

    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    df = table.shape[1] - 1
    n_rows = table.sum(axis=1, keepdims=True)
    if df < 1 or np.any(n_rows == 0):
        return 0.0, max(df, 0), 1.0
    expected = n_rows * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, df, float(stats.chi2.sf(statistic, df))


def pool_rare_cells(
    ref_counts: np.ndarray, cur_counts: np.ndarray, min_expected: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Merge the cells whose smaller expected count is below ``min_expected`` into one.

    The chi-square approximation needs about five expected values per cell; rare
    categories are pooled (and dropped if even the pool stays below it).
    """
    pooled = ref_counts + cur_counts
    total = pooled.sum()
    if total == 0:
        return ref_counts, cur_counts
    smaller = min(ref_counts.sum(), cur_counts.sum())
    rare = pooled * smaller / total < min_expected
    if not rare.any():
        return ref_counts, cur_counts
    ref_out = np.append(ref_counts[~rare], ref_counts[rare].sum())
    cur_out = np.append(cur_counts[~rare], cur_counts[rare].sum())
    if (ref_out[-1] + cur_out[-1]) * smaller / total < min_expected:
        ref_out, cur_out = ref_out[:-1], cur_out[:-1]
    return ref_out, cur_out


def two_proportion_test(
    x_ref: np.ndarray, n_ref: np.ndarray, x_cur: np.ndarray, n_cur: np.ndarray
) -> np.ndarray:
    """Two-sided p-value of the pooled two-proportion z-test x_ref/n_ref vs x_cur/n_cur.

    1.0 when the pooled proportion is 0 or 1 (no variation); NaN when a side is empty.
    """
    from scipy import special

    x_ref, n_ref, x_cur, n_cur = (
        np.asarray(v, dtype=np.float64) for v in (x_ref, n_ref, x_cur, n_cur)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x_ref + x_cur) / (n_ref + n_cur)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
        z = np.abs(x_cur / n_cur - x_ref / n_ref) / se
        p = 2 * special.ndtr(-z)
    p = np.where(se > 0, p, 1.0)
    return np.where((n_ref > 0) & (n_cur > 0), p, np.nan)


def adjust_pvalues(p: np.ndarray, method: Correction = "holm") -> np.ndarray:
    """Multiple-testing adjusted p-values; NaN entries are not tests and stay NaN.

    ``holm``: Holm-Bonferroni step-down, controls the family-wise error rate under
    any dependence. ``bh``: Benjamini-Hochberg, controls the false discovery rate
    (valid for independent or positively dependent tests). ``none``: unchanged.
    """
    p = np.asarray(p, dtype=np.float64)
    out = p.copy()
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if method == "none" or m == 0:
        return out
    values = p[valid]
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    if method == "holm":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adjusted = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}: use 'holm', 'bh' or 'none'")
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    out[valid] = result
    return out
