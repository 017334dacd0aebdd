"""Drift of current data against a reference: per-feature tests, verdicts, report.

Two entry points, same tests, same report:

* :func:`detect_drift` compares current data (and predictions) with a stored
  :class:`~.profile.Profile`. Numeric features use the *binned* KS test: D is
  the largest CDF difference at the profile's quantile edges (~100, plus the
  point just below the minimum), a slight underestimate of the exact D.
* :func:`compare` compares two raw data sets (``modelport drift REF CUR``). It
  profiles the reference and, since the raw reference values are at hand, uses
  the *exact* (unbinned) two-sample KS statistic and exact Wasserstein distance;
  PSI and the categorical and missing-value tests are the same as above.

Tests per feature (see :mod:`.statistics` for the formulas):

* numeric: two-sample Kolmogorov-Smirnov (statistic D, asymptotic p-value with
  effective n = n_ref n_cur / (n_ref + n_cur)); effect = D. Also reported: PSI on
  the reference deciles and the Wasserstein distance divided by the reference
  standard deviation (null if that is 0; binned: from the reference's per-bin
  means, exact for a shift; see :func:`.statistics.wasserstein_binned`).
* categorical: chi-square test of homogeneity of the current against the
  reference counts; effect = Jensen-Shannon distance (base 2, in [0, 1]).
  Cells with an expected count below 5 are pooled (the approximation needs
  it). A category the reference never saw is a cell of its own (reference
  count 0) and is listed in ``unseen_categories``, with the share of current
  rows they hold in ``unseen_share``: a new category holding a few percent of
  the rows alarms, an id-like column with new values every day does not.
  When the reference had more than 1,000 categories the rest were counted as
  "other": a current category outside the kept ones is "other" too (it cannot
  be told from an unseen one), and kept categories too close to the cut join
  "other" for the tests (see ``_reliable_categories``).
* every feature: missing rate, two-proportion z-test.
* predictions: class -> the categorical tests, value -> the numeric tests.

Verdicts. All p-values of one report (distribution and missing-rate tests of
every feature and of the predictions) are adjusted together for multiple
testing, by Holm's step-down method by default (controls the chance of *any*
false alarm; ``DriftConfig.correction="bh"`` for Benjamini-Hochberg). A test
alarms only when it is significant (adjusted p < ``alpha``) *and* its effect
is worth an alarm (D >= ``ks_threshold``, JS >= ``js_threshold``, or PSI >=
``psi_threshold``; missing rate change >= ``missing_threshold``), so that with
a million rows tiny differences do not alarm. A feature drifts if its
distribution or its missing rate does. The report drifts if the drifted share
of features is at least ``min_drifted_share`` (default 0: any one feature) or
the predictions drift.

JSON (``DriftReport.to_dict``); every float is finite or null::

    {"drift": true,
     "drifted_features": ["age"],
     "method": "binned",                    # or "exact" (compare)
     "config": {"alpha": 0.05, "correction": "holm", "ks_threshold": 0.02, ...},
     "n_reference": 100000, "n_current": 100000,   # rows
     "extra_columns": [],                   # in current, not in the reference
     "features": {
        "age": {"drift": true, "kind": "numeric", "test": "ks",
                "statistic": 0.041, "p_value": 1e-60, "p_value_adjusted": 5e-59,
                "effect": 0.041, "effect_measure": "ks_statistic",
                "psi": 0.011, "wasserstein": 0.1,   # in reference std units
                "distribution_drift": true,
                "n_reference": 99000, "n_current": 100000,  # non-missing values
                "missing_rate_reference": 0.01, "missing_rate_current": 0.01,
                "missing_p_value": 0.8, "missing_p_value_adjusted": 1.0,
                "missing_drift": false},
        "city": {... "kind": "categorical", "test": "chi_square",
                 "effect_measure": "jensen_shannon",
                 "unseen_categories": ["lyon"], "n_unseen_categories": 1,
                 "unseen_share": 0.002}},
     "predictions": null | {<a feature entry>}}

``statistic``, ``p_value``, ``effect`` and ``psi`` are null when a side has no
values (the missing-rate test still runs).

Why one module of this size: the numeric and categorical tests, their verdicts and
the multiple-testing correction are read together when a verdict is questioned; the
statistics themselves live in :mod:`.statistics`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import DataError
from modelport.monitoring import statistics as st
from modelport.monitoring._columns import (
    category_counts,
    check_frame,
    float_values,
    map_columns,
    names,
    sorted_finite,
)
from modelport.monitoring.numbers import finite_or_none
from modelport.monitoring.profile import (
    CategoricalProfile,
    FeatureProfile,
    NumericProfile,
    Profile,
    profile_and_values,
)
from modelport.monitoring.report import DriftConfig, DriftReport, FeatureDrift

# -- numeric features: one sort per column, then (features x edges) array math ----------
#
# The one pass over the data is a sort of each current column (NumPy's SIMD sort,
# on threads; ~10 ms per million values), after which the CDF at the ~100 edges is
# ~100 binary searches. Binning unsorted values with searchsorted is ~6x slower
# (a cache-missing binary search per value), and the sorted column also gives the
# Wasserstein prefix sums and, for compare(), the exact KS statistic.


@dataclass
class _Current:
    """What the tests need from one current numeric column."""

    count: int
    missing: int
    below: int  # values < edges[0]
    wasserstein: float  # binned approximation
    cumulative: np.ndarray  # values <= each edge
    exact: tuple[float, float, float] | None = None  # D, p, W against the raw reference


def _summarise(values: np.ndarray, ref: NumericProfile, raw_ref: np.ndarray | None) -> _Current:
    finite, missing = sorted_finite(values)
    edges = ref.edges
    if len(edges) == 0 or len(finite) == 0:
        return _Current(len(finite), missing, 0, float("nan"), np.zeros(len(edges)))
    cumulative = np.searchsorted(finite, edges, side="right")
    below = int(np.searchsorted(finite, edges[0], side="left"))
    exact = None
    if raw_ref is not None:
        exact = st.ks_wasserstein_sorted(raw_ref, finite)
    return _Current(
        count=len(finite),
        missing=missing,
        below=below,
        wasserstein=st.wasserstein_binned(np.cumsum(ref.counts) / ref.count, ref.means, finite),
        cumulative=cumulative,
        exact=exact,
    )


def _numeric_tests(
    refs: list[NumericProfile], curs: list[_Current], config: DriftConfig
) -> list[dict[str, Any]]:
    m = len(refs)
    width = max([len(r.edges) for r in refs] + [1])
    cum_ref, cum_cur = np.zeros((m, width)), np.zeros((m, width))
    for i, (ref, cur) in enumerate(zip(refs, curs, strict=True)):
        k = len(ref.edges)
        if k:  # pad by repeating the last edge: empty bins that change nothing
            cum_ref[i, :k] = np.cumsum(ref.counts)
            cum_ref[i, k:] = cum_ref[i, k - 1]
            cum_cur[i, :k], cum_cur[i, k:] = cur.cumulative, cur.cumulative[-1]
    n_ref = np.array([r.count for r in refs], dtype=np.float64)
    n_cur = np.array([c.count for c in curs], dtype=np.float64)
    testable = (n_ref > 0) & (n_cur > 0)
    nr, nc = np.maximum(n_ref, 1)[:, None], np.maximum(n_cur, 1)[:, None]
    cdf_ref, cdf_cur = cum_ref / nr, cum_cur / nc
    below = np.array([c.below for c in curs], dtype=np.float64)[:, None] / nc

    # KS: the CDFs at every edge and just below the smallest one
    d = st.ks_statistic(np.hstack([np.zeros((m, 1)), cdf_ref]), np.hstack([below, cdf_cur]))
    p = st.ks_pvalue(d, n_ref, n_cur)

    # PSI on reference quantile groups: cut at the first edge reaching each level
    levels = np.arange(1, config.psi_bins) / config.psi_bins
    cuts = np.minimum((cdf_ref[:, :, None] < levels).sum(axis=1), width - 1)
    groups_ref = np.hstack(
        [np.zeros((m, 1)), np.take_along_axis(cum_ref, cuts, 1), cum_ref[:, -1:], n_ref[:, None]]
    )
    groups_cur = np.hstack(
        [np.zeros((m, 1)), np.take_along_axis(cum_cur, cuts, 1), cum_cur[:, -1:], n_cur[:, None]]
    )
    psi = st.psi(np.diff(groups_ref, axis=1) / nr, np.diff(groups_cur, axis=1) / nc)

    results = []
    for i, (ref, cur) in enumerate(zip(refs, curs, strict=True)):
        di, pi, wi = float(d[i]), float(p[i]), cur.wasserstein
        if cur.exact is not None:
            di, pi, wi = cur.exact
        ok = bool(testable[i])
        std = ref.std or 0.0
        results.append(
            {
                "kind": "numeric",
                "test": "ks",
                "statistic": di if ok else None,
                "p_value": pi if ok else None,
                "effect": di if ok else None,
                "effect_measure": "ks_statistic",
                "effect_threshold": config.ks_threshold,
                "psi": float(psi[i]) if ok else None,
                "wasserstein": wi / std if ok and std > 0 else None,
            }
        )
    return results


# -- categorical features ---------------------------------------------------------------


def _reliable_categories(ref: CategoricalProfile, current: dict[str, int]) -> dict[str, int]:
    """The reference categories whose counts can be compared with the current ones.

    When the profile kept only the most frequent categories, one near the cut was
    kept *because* its count came out high by chance: comparing it with the
    current count would alarm on noise (an id column would always drift). A kept
    category gets a cell of its own only if its pooled count, scaled to the
    reference size, is far above the cut c (>= c + 3 sqrt(c) + 3), so that it
    would have been kept whatever the noise. Selecting by the pooled count does
    not bias the test: under no drift, the split of a pooled count between the
    samples does not depend on it. The other categories join "other".
    """
    if not ref.other or not ref.categories:
        return ref.categories
    cut = min(ref.categories.values())
    safe = cut + 3 * math.sqrt(cut) + 3
    share = ref.count / (ref.count + sum(current.values()))
    return {
        key: count
        for key, count in ref.categories.items()
        if (count + current.get(key, 0)) * share >= safe
    }


def _categorical_test(ref: CategoricalProfile, values: Any, config: DriftConfig) -> dict[str, Any]:
    counts, missing = category_counts(values)
    kept = _reliable_categories(ref, counts)
    cells = {key: i for i, key in enumerate(kept)}
    ref_counts = list(kept.values())
    cur_counts = [0] * len(ref_counts)
    other, unseen = 0, {}
    for key, count in counts.items():
        i = cells.get(key)
        if i is not None:
            cur_counts[i] += count
        elif ref.other:
            other += count
        else:
            unseen[key] = count
    if ref.other:
        ref_counts.append(ref.count - sum(kept.values()))
        cur_counts.append(other)
    # each unseen category is a cell of its own: pooling them all would select cells by
    # where their rows fell and alarm on every high-cardinality column (ids, free text)
    ref_counts.extend([0] * len(unseen))
    cur_counts.extend(unseen.values())
    ref_arr = np.array(ref_counts, dtype=np.float64)
    cur_arr = np.array(cur_counts, dtype=np.float64)
    n_cur = int(cur_arr.sum())
    ok = ref.count > 0 and n_cur > 0
    statistic = p = effect = psi = None
    if ok:
        statistic, _, p = st.chi_square_two_sample(*st.pool_rare_cells(ref_arr, cur_arr))
        effect = float(st.js_distance(ref_arr, cur_arr))
        psi = float(st.psi(ref_arr / ref.count, cur_arr / n_cur))
    listed = sorted(unseen, key=lambda k: -unseen[k])[: config.max_listed_categories]
    return {
        "kind": "categorical",
        "test": "chi_square",
        "statistic": statistic,
        "p_value": p,
        "effect": effect,
        "effect_measure": "jensen_shannon",
        "effect_threshold": config.js_threshold,
        "psi": psi,
        "unseen_categories": tuple(listed),
        "n_unseen_categories": len(unseen),
        "unseen_share": sum(unseen.values()) / n_cur if n_cur else 0.0,
        "_count": n_cur,
        "_missing": missing,
    }


#: the key of the predictions among the features while testing (no column is named so)
_PREDICTIONS = "\0predictions"

#: (name, reference profile, current values) of one feature or of the predictions
_Entry = tuple[str, FeatureProfile, Any]


def _entries(
    profile: Profile, current: pd.DataFrame, predictions: np.ndarray | None
) -> list[_Entry]:
    """What to test, after checking that the current data fits the profile."""
    absent = [name for name in profile.features if name not in current.columns]
    if absent:
        raise DataError(
            f"the current data lacks columns of the reference: {names(absent)}",
            hint="add them (all values missing is fine), or profile a reference without them",
        )
    entries: list[_Entry] = [(name, ref, current[name]) for name, ref in profile.features.items()]
    if predictions is None:
        return entries
    if profile.predictions is None:
        raise DataError(
            "predictions were given but the reference profile has none to compare with",
            hint="build the profile with build_profile(..., predictions=...), or drop them",
        )
    array = np.asarray(predictions)
    if array.ndim != 1:
        raise DataError(
            f"predictions must be one value per row (1-D), got shape {array.shape}",
            hint="pass the predicted class, or the probability of the positive class",
        )
    entries.append((_PREDICTIONS, profile.predictions, pd.Series(array, copy=False)))
    return entries


def _test(
    entries: list[_Entry], config: DriftConfig, raw_reference: Mapping[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    """The distribution test of every entry: numeric ones together, then categorical ones."""
    numeric = [(n, r, v) for n, r, v in entries if isinstance(r, NumericProfile)]
    arrays = [float_values(v, n) for n, _, v in numeric]
    summaries = map_columns(
        lambda item: _summarise(item[0], item[1][1], raw_reference.get(item[1][0])),
        list(zip(arrays, numeric, strict=True)),
        sum(len(a) for a in arrays),
    )
    numeric_results = _numeric_tests([r for _, r, _ in numeric], summaries, config)
    results: dict[str, dict[str, Any]] = {}
    for (name, _, _), summary, result in zip(numeric, summaries, numeric_results, strict=True):
        results[name] = {**result, "_count": summary.count, "_missing": summary.missing}
    for name, ref, values in entries:
        if isinstance(ref, CategoricalProfile):
            results[name] = _categorical_test(ref, values, config)
    return results


# -- verdicts -------------------------------------------------------------------------


def _verdicts(
    entries: list[_Entry], results: dict[str, dict[str, Any]], config: DriftConfig
) -> dict[str, FeatureDrift]:
    """Missing-rate tests, one multiple-testing correction over all tests, verdicts."""
    refs = {name: ref for name, ref, _ in entries}
    order = list(refs)
    m = len(order)
    missing_ref = np.array([refs[n].missing for n in order], dtype=np.float64)
    total_ref = np.array([refs[n].total for n in order], dtype=np.float64)
    missing_cur = np.array([results[n]["_missing"] for n in order], dtype=np.float64)
    total_cur = missing_cur + [results[n]["_count"] for n in order]
    p_missing = st.two_proportion_test(missing_ref, total_ref, missing_cur, total_cur)
    p_dist = [results[n]["p_value"] for n in order]
    # no missing value on either side: nothing was tested, keep it out of the family
    untested = missing_ref + missing_cur == 0
    family = np.concatenate(
        [np.array(p_dist, dtype=np.float64), np.where(untested, np.nan, p_missing)]
    )
    adjusted = st.adjust_pvalues(family, config.correction)
    adjusted[m:][untested] = 1.0

    verdicts: dict[str, FeatureDrift] = {}
    for i, name in enumerate(order):
        r = results[name]
        p_adj, pm_adj = adjusted[i], adjusted[m + i]
        rate_ref = missing_ref[i] / total_ref[i] if total_ref[i] else 0.0
        rate_cur = missing_cur[i] / total_cur[i] if total_cur[i] else 0.0
        big_enough = r["effect"] is not None and (
            r["effect"] >= r["effect_threshold"] or r["psi"] >= config.psi_threshold
        )
        verdicts[name] = FeatureDrift(
            name="predictions" if name == _PREDICTIONS else name,
            kind=r["kind"],
            test=r["test"],
            statistic=r["statistic"],
            p_value=r["p_value"],
            p_value_adjusted=finite_or_none(p_adj),
            effect=r["effect"],
            effect_measure=r["effect_measure"],
            psi=r["psi"],
            distribution_drift=bool(big_enough and p_adj < config.alpha),
            n_reference=refs[name].count,
            n_current=int(r["_count"]),
            missing_rate_reference=float(rate_ref),
            missing_rate_current=float(rate_cur),
            missing_p_value=finite_or_none(p_missing[i]),
            missing_p_value_adjusted=finite_or_none(pm_adj),
            missing_drift=bool(
                pm_adj < config.alpha and abs(rate_cur - rate_ref) >= config.missing_threshold
            ),
            wasserstein=r.get("wasserstein"),
            unseen_categories=r.get("unseen_categories", ()),
            n_unseen_categories=r.get("n_unseen_categories", 0),
            unseen_share=r.get("unseen_share", 0.0),
        )
    return verdicts


def _run(
    profile: Profile,
    current: pd.DataFrame,
    predictions: np.ndarray | None,
    config: DriftConfig | None,
    raw_reference: Mapping[str, np.ndarray] | None = None,
) -> DriftReport:
    config = config or DriftConfig()
    current = check_frame(current, "current")
    entries = _entries(profile, current, predictions)
    verdicts = _verdicts(entries, _test(entries, config, raw_reference or {}), config)
    prediction_verdict = verdicts.pop(_PREDICTIONS, None)
    drifted = sum(v.drift for v in verdicts.values())
    drift = drifted > 0 and drifted >= config.min_drifted_share * len(verdicts)
    return DriftReport(
        drift=bool(drift or (prediction_verdict is not None and prediction_verdict.drift)),
        features=verdicts,
        predictions=prediction_verdict,
        config=config,
        n_reference=profile.count,
        n_current=len(current),
        method="exact" if raw_reference is not None else "binned",
        extra_columns=tuple(c for c in current.columns if c not in profile.features),
    )


def detect_drift(
    profile: Profile,
    current: pd.DataFrame,
    predictions: np.ndarray | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Test ``current`` (and the model's ``predictions`` on it) against a reference profile.

    Every feature of the profile must be a column of ``current`` (DataError names the
    missing ones); extra columns are ignored and listed in ``extra_columns``.
    """
    return _run(profile, current, predictions, config)


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    config: DriftConfig | None = None,
    *,
    categorical: Collection[str] = (),
) -> DriftReport:
    """Test ``current`` against the raw ``reference`` data set, with exact KS and Wasserstein.

    Column kinds come from the reference (``categorical`` forces columns to be
    categorical). Used by ``modelport drift REF.parquet CUR.parquet``.
    """
    profile, raw = profile_and_values(reference, categorical, None, None, bins=100)
    return _run(profile, current, None, config, raw_reference=raw)


__all__ = ["DriftConfig", "DriftReport", "FeatureDrift", "compare", "detect_drift"]
