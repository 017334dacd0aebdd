"""Small-sample bounds for canary checks: exact binomial limits, their differences, quantiles.

Chosen to stay valid with a handful of requests and with zeros, where normal approximations
(Wald, pooled z) call one failure in ten requests significant.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# scipy is imported inside the functions that use it: a server imports this module on
# its start path, and scipy costs it ~0.3 s and ~30 MB for statistics it runs once per
# monitoring or canary poll, never per request.


#: floor of a proportion in PSI, as ``modelport.monitoring.statistics.PSI_EPSILON``
PSI_EPSILON = 1e-4


def clopper_pearson(
    successes: ArrayLike, n: ArrayLike, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact limits of a proportion: each side covers with probability >= 1 - alpha.

    Beta quantiles (Clopper and Pearson, Biometrika 26:404, 1934); 0 and 1 at the edges and
    for n = 0. Vectorised.
    """
    from scipy import stats

    x = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = stats.beta.ppf(alpha, np.maximum(x, 1), np.maximum(m - x + 1, 1))
        upper = stats.beta.ppf(1 - alpha, np.maximum(x + 1, 1), np.maximum(m - x, 1))
    lower = np.where(x <= 0, 0.0, lower)
    upper = np.where(x >= m, 1.0, upper)
    return np.asarray(lower), np.asarray(upper)


def increase_lower_bound(
    stable_events: ArrayLike,
    stable_n: ArrayLike,
    candidate_events: ArrayLike,
    candidate_n: ArrayLike,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The observed increase ``p_candidate - p_stable`` and its one-sided (1 - alpha) lower
    bound by MOVER from Clopper-Pearson limits (see the module docstring). Vectorised; arms
    with n = 0 give NaN."""
    xs, ns = np.asarray(stable_events, float), np.asarray(stable_n, float)
    xc, nc = np.asarray(candidate_events, float), np.asarray(candidate_n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ps, pc = xs / ns, xc / nc
        lower_c, _ = clopper_pearson(xc, nc, alpha)
        _, upper_s = clopper_pearson(xs, ns, alpha)
        difference = pc - ps
        bound = difference - np.sqrt((pc - lower_c) ** 2 + (upper_s - ps) ** 2)
    return np.asarray(difference), np.asarray(bound)


def quantile_bounds(values: ArrayLike, q: float, alpha: float) -> tuple[float | None, float | None]:
    """Distribution-free one-sided (1 - alpha) lower and upper bounds of the q-quantile.

    The number of samples at or below the true quantile is Binomial(n, q), so the order
    statistic ``x_(k)`` is below it with probability ``P(Binomial >= k)``: the lower bound is
    the largest such k with that probability >= 1 - alpha, the upper bound the smallest k with
    ``P(Binomial <= k - 1) >= 1 - alpha``. None where no order statistic is far enough out
    (a one-sided upper bound of the p99 at level 0.975 needs at least 367 values).
    """
    from scipy import stats

    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return None, None
    # lower: the largest k with cdf(k - 1) <= alpha
    j = int(stats.binom.ppf(alpha, n, q))
    if stats.binom.cdf(j, n, q) > alpha:
        j -= 1
    lower = float(x[j]) if j >= 0 else None  # x_(j+1) in 1-based order
    # upper: the smallest k with cdf(k - 1) >= 1 - alpha, i.e. k - 1 = ppf(1 - alpha)
    k = int(stats.binom.ppf(1 - alpha, n, q)) + 1
    upper = float(x[k - 1]) if k <= n else None
    return lower, upper


def psi_counts(stable_counts: ArrayLike, candidate_counts: ArrayLike) -> float:
    """PSI ``sum((q - p) ln(q / p))`` of two count vectors over the same bins.

    The same formula and floor as ``modelport.monitoring.statistics.psi``, which cannot be
    imported from this layer: proportions below ``PSI_EPSILON`` are raised to it, so a bin
    empty on one side adds a large but finite term.
    """
    s = np.asarray(stable_counts, dtype=np.float64)
    c = np.asarray(candidate_counts, dtype=np.float64)
    p = np.maximum(s / s.sum(), PSI_EPSILON)
    q = np.maximum(c / c.sum(), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def homogeneity_p_value(stable_counts: ArrayLike, candidate_counts: ArrayLike) -> float:
    """Pearson chi-square p-value that both count vectors share one distribution (no Yates
    correction; bins empty in both dropped; 1.0 with fewer than two bins left)."""
    from scipy import stats

    table = np.vstack([stable_counts, candidate_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)
