"""compare(): two raw data sets, exact KS and Wasserstein, same report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from monitoring_data import make_frame
from scipy import stats

from modelport.errors import DataError
from modelport.monitoring import build_profile, compare, detect_drift
from modelport.monitoring.drift import compare as compare_from_module


def test_exact_path_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=20_000)
    values[::10] = np.nan
    reference = pd.DataFrame({"x": values, "ties": rng.poisson(2, 20_000).astype(float)})
    current = pd.DataFrame(
        {"x": rng.normal(0.05, 1.1, size=30_000), "ties": rng.poisson(2.1, 30_000).astype(float)}
    )
    report = compare(reference, current)
    assert report.method == "exact" and report.to_dict()["method"] == "exact"
    for column in ("x", "ties"):
        ref = reference[column].dropna().to_numpy()
        cur = current[column].to_numpy()
        feature = report.features[column]
        expected = stats.ks_2samp(ref, cur, method="asymp")
        assert feature.statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert feature.p_value == pytest.approx(expected.pvalue, rel=0.03, abs=1e-12)
        w = stats.wasserstein_distance(ref, cur) / ref.std(ddof=1)
        assert feature.wasserstein == pytest.approx(w, rel=1e-9)
    assert report.drifted_features == ["x", "ties"]


def test_exact_and_binned_paths_agree_closely() -> None:
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"x": rng.lognormal(size=50_000)})
    current = pd.DataFrame({"x": rng.lognormal(0.05, size=100_000)})
    exact = compare(reference, current).features["x"]
    binned = detect_drift(build_profile(reference), current).features["x"]
    assert binned.statistic <= exact.statistic + 1e-12
    assert binned.statistic == pytest.approx(exact.statistic, abs=0.005)
    assert binned.wasserstein == pytest.approx(exact.wasserstein, rel=0.03)
    assert binned.psi == exact.psi


def test_same_distribution_and_shift() -> None:
    reference, current = make_frame(30_000, seed=3), make_frame(30_000, seed=4)
    assert compare(reference, current).drifted_features == []
    current["lognormal_2"] *= 1.3
    assert compare(reference, current).drifted_features == ["lognormal_2"]


def test_categorical_override_and_columns() -> None:
    reference = pd.DataFrame({"code": [1, 2, 3, 1] * 500, "x": np.arange(2_000.0)})
    current = pd.DataFrame({"code": [1, 2, 3, 4] * 500, "x": np.arange(2_000.0), "new": 1})
    report = compare(reference, current, categorical=["code"])
    code = report.features["code"]
    assert code.kind == "categorical" and code.unseen_categories == ("4",)
    assert code.drift
    assert report.extra_columns == ("new",)
    with pytest.raises(DataError, match="lacks columns of the reference: 'x'"):
        compare_from_module(reference, current.drop(columns=["x"]))
