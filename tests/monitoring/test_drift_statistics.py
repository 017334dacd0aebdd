"""The pure statistics agree with scipy where scipy has the same test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from modelport.monitoring import statistics as st
from modelport.monitoring.profile import numeric_profile


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift"),
    [(300, 500, 0.0), (400, 900, 0.3), (20_000, 100_000, 0.0), (20_000, 100_000, 0.03)],
)
def test_exact_ks_matches_scipy(n_ref: int, n_cur: int, shift: float) -> None:
    rng = np.random.default_rng(n_ref + n_cur)
    ref, cur = rng.normal(size=n_ref), rng.normal(shift, size=n_cur)
    d, p = st.ks_2samp_sorted(np.sort(ref), np.sort(cur))
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    # kstwo itself up to an effective n of 1000, Stephens' formula beyond
    assert p == pytest.approx(expected.pvalue, rel=0.03, abs=1e-3)


def test_exact_ks_with_ties_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.poisson(3, 700).astype(float), rng.poisson(3.3, 800).astype(float)
    d, p = st.ks_2samp_sorted(np.sort(ref), np.sort(cur))
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_pvalue_is_vectorised_and_handles_empty_samples() -> None:
    d = np.array([0.0, 0.01, 0.05, 0.3])
    p = st.ks_pvalue(d, np.array([500, 20_000, 20_000, 0]), 100_000)
    assert p[0] == 1.0
    assert p[1] == pytest.approx(stats.kstwo.sf(0.01, round(20_000 * 100_000 / 120_000)), rel=0.03)
    assert p[2] < 1e-30
    assert np.isnan(p[3])


def test_binned_ks_equals_exact_ks_when_edges_are_all_values() -> None:
    rng = np.random.default_rng(4)
    ref, cur = rng.integers(0, 8, 5_000), rng.integers(0, 9, 6_000)
    edges = np.unique(ref)
    cdf_ref = (ref[:, None] <= edges).mean(axis=0)
    cdf_cur = (cur[:, None] <= edges).mean(axis=0)
    d = st.ks_statistic(cdf_ref[None, :], cdf_cur[None, :])
    assert d[0] == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)


def test_exact_wasserstein_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    ref, cur = rng.lognormal(size=3_000), rng.lognormal(0.1, size=4_000)
    w = st.wasserstein_sorted(np.sort(ref), np.sort(cur))
    assert w == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)


def _bins(ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference CDF at its percentile edges and the mean of each bin, as in a profile."""
    fp = numeric_profile(ref)[0]
    return np.cumsum(fp.counts) / fp.count, fp.means


@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
def test_binned_wasserstein_approximates_scipy(distribution: str) -> None:
    rng = np.random.default_rng(6)
    if distribution == "normal":
        ref, cur = rng.normal(size=50_000), rng.normal(0.3, 1.2, size=60_000)
    else:  # long right tail: the top bin spans most of the range
        ref, cur = rng.lognormal(size=50_000), rng.lognormal(0.1, 1.1, size=60_000)
    w = st.wasserstein_binned(*_bins(ref), np.sort(cur))
    assert w == pytest.approx(stats.wasserstein_distance(ref, cur), rel=0.02)


def test_binned_wasserstein_is_exact_for_a_shift() -> None:
    rng = np.random.default_rng(7)
    ref = rng.lognormal(size=10_000)
    w = st.wasserstein_binned(*_bins(ref), np.sort(ref + 0.25))
    assert w == pytest.approx(0.25, rel=1e-9)


def test_chi_square_matches_scipy() -> None:
    ref = np.array([400.0, 300, 200, 100, 0])
    cur = np.array([3_200.0, 4_100, 2_000, 900, 30])
    statistic, df, p = st.chi_square_two_sample(ref, cur)
    table = np.vstack([ref, cur])
    contingency = stats.chi2_contingency(table, correction=False)
    assert (statistic, df, p) == pytest.approx(
        (contingency.statistic, contingency.dof, contingency.pvalue), rel=1e-9
    )
    # the same test as scipy.stats.chisquare on the table's cells against their expected counts
    # (ddof so that the degrees of freedom are k - 1, as for a 2 x k table)
    k = table.shape[1]
    flat = stats.chisquare(table.ravel(), contingency.expected_freq.ravel(), ddof=k)
    assert (statistic, p) == pytest.approx((flat.statistic, flat.pvalue), rel=1e-9)


def test_chi_square_approaches_goodness_of_fit_for_a_large_reference() -> None:
    probs = np.array([0.4, 0.3, 0.2, 0.1])
    cur = np.array([4_100.0, 2_950, 2_000, 950])
    statistic, _, p = st.chi_square_two_sample(probs * 1e9, cur)
    gof = stats.chisquare(cur, probs * cur.sum())
    assert (statistic, p) == pytest.approx((gof.statistic, gof.pvalue), rel=1e-4)


def test_chi_square_degenerate_cases() -> None:
    assert st.chi_square_two_sample(np.array([5.0]), np.array([7.0])) == (0.0, 0, 1.0)
    assert st.chi_square_two_sample(np.array([5.0, 0]), np.array([0.0, 0]))[2] == 1.0


def test_pool_rare_cells() -> None:
    ref = np.array([500.0, 400, 2, 1, 1])
    cur = np.array([5_000.0, 4_000, 20, 10, 10])
    # the rare cells pooled hold too few to test: dropped
    pooled_ref, pooled_cur = st.pool_rare_cells(ref, cur)
    np.testing.assert_array_equal(pooled_ref, [500, 400])
    np.testing.assert_array_equal(pooled_cur, [5_000, 4_000])
    # enough together: kept as one cell
    more_ref, more_cur = ref + np.array([0, 0, 3, 3, 3]), cur + np.array([0, 0, 10, 20, 20])
    pooled_ref, pooled_cur = st.pool_rare_cells(more_ref, more_cur)
    np.testing.assert_array_equal(pooled_ref, [500, 400, 13])
    np.testing.assert_array_equal(pooled_cur, [5_000, 4_000, 90])


def test_js_distance_matches_scipy_row_by_row() -> None:
    p = np.array([[0.4, 0.3, 0.2, 0.1], [10, 0, 5, 5]], dtype=float)
    q = np.array([[0.3, 0.4, 0.2, 0.1], [1, 8, 0, 1]], dtype=float)
    ours = st.js_distance(p, q)
    for i in range(2):
        assert ours[i] == pytest.approx(jensenshannon(p[i], q[i], base=2), rel=1e-12)
    assert st.js_distance(p[0], p[0]) == pytest.approx(0.0, abs=1e-12)


def test_psi() -> None:
    p, q = np.array([0.5, 0.5]), np.array([0.6, 0.4])
    expected = 0.1 * np.log(0.6 / 0.5) - 0.1 * np.log(0.4 / 0.5)
    assert st.psi(p, q) == pytest.approx(expected)
    # an empty bin is floored, not infinite
    assert np.isfinite(st.psi(np.array([1.0, 0.0]), np.array([0.9, 0.1])))


def test_two_proportion_test_matches_chi_square_on_the_2x2_table() -> None:
    p = st.two_proportion_test(np.array([50, 0]), np.array([1_000, 10]), np.array([80, 0]), 1_000)
    table = np.array([[50, 950], [80, 920]])
    assert p[0] == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)
    assert p[1] == 1.0


def test_holm_and_benjamini_hochberg() -> None:
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    holm = st.adjust_pvalues(p, "holm")
    np.testing.assert_allclose(holm, [0.03, 0.06, 0.06, np.nan, 0.02])
    bh = st.adjust_pvalues(p, "bh")
    valid = ~np.isnan(p)
    np.testing.assert_allclose(bh[valid], stats.false_discovery_control(p[valid], method="bh"))
    assert np.isnan(bh[3])
    np.testing.assert_array_equal(st.adjust_pvalues(p, "none"), p)
    with pytest.raises(ValueError, match="correction"):
        st.adjust_pvalues(p, "bonferroni")  # type: ignore[arg-type]


def test_exact_ks_and_wasserstein_match_scipy_on_random_small_samples() -> None:
    rng = np.random.default_rng(8)
    for trial in range(90):
        n, m = rng.integers(1, 200, size=2)
        if trial % 3 == 0:
            ref, cur = rng.normal(size=n), rng.normal(rng.normal(0, 0.3), size=m)
        elif trial % 3 == 1:  # many ties
            ref, cur = rng.integers(0, 5, n).astype(float), rng.integers(0, 6, m).astype(float)
        else:  # a large offset, as for timestamps in seconds
            ref, cur = 1.7e9 + 1e6 * rng.lognormal(size=n), 1.7e9 + 1e6 * rng.lognormal(size=m)
        d, _ = st.ks_2samp_sorted(np.sort(ref), np.sort(cur))
        assert d == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
        w = st.wasserstein_sorted(np.sort(ref), np.sort(cur))
        assert w == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9, abs=1e-9)
