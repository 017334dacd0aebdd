"""The reference profile: contents, ties, missing values, JSON round trip, speed."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from modelport.errors import DataError
from modelport.monitoring import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    build_profile,
)
from modelport.monitoring.profile import FORMAT_VERSION, categorical_profile


def test_numeric_summary_and_exact_cdf_at_edges(reference: pd.DataFrame, profile: Profile) -> None:
    values = reference["normal_3"].to_numpy()
    fp = profile.features["normal_3"]
    assert isinstance(fp, NumericProfile)
    assert (fp.count, fp.missing, fp.missing_rate) == (len(values), 0, 0.0)
    assert fp.mean == pytest.approx(values.mean())
    assert fp.std == pytest.approx(values.std(ddof=1))
    assert (fp.min, fp.max) == (values.min(), values.max())
    assert fp.edges[0] == values.min() and fp.edges[-1] == values.max()
    assert np.all(np.diff(fp.edges) > 0)
    assert 95 <= len(fp.edges) <= 101
    assert fp.counts.sum() == fp.count
    # the cumulative counts are the exact empirical CDF at every edge
    expected = (values[:, None] <= fp.edges[None, :]).sum(axis=0)
    np.testing.assert_array_equal(np.cumsum(fp.counts), expected)
    bins = np.searchsorted(fp.edges, values, side="left")
    np.testing.assert_allclose(fp.means, np.bincount(bins, weights=values) / fp.counts)
    # ~1% of the mass per bin
    assert fp.counts[1:].max() <= 0.011 * fp.count


def test_ties_and_discrete_values_give_unique_edges() -> None:
    rng = np.random.default_rng(0)
    values = np.where(rng.random(10_000) < 0.6, 0, rng.integers(1, 5, 10_000))
    fp = build_profile(pd.DataFrame({"x": values})).features["x"]
    assert isinstance(fp, NumericProfile)
    np.testing.assert_array_equal(fp.edges, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(fp.counts, np.bincount(values))
    np.testing.assert_array_equal(fp.means, [0, 1, 2, 3, 4])


def test_constant_all_missing_and_infinite_values() -> None:
    frame = pd.DataFrame(
        {
            "constant": [7.0] * 5,
            "empty": [np.nan] * 5,
            "inf": [1.0, np.inf, -np.inf, np.nan, 2.0],
            "nullable": pd.array([1, None, 3, None, 5], dtype="Int64"),
        }
    )
    features = build_profile(frame).features
    constant, empty, inf, nullable = (features[c] for c in frame.columns)
    assert isinstance(constant, NumericProfile)
    assert list(constant.edges) == [7.0] and list(constant.counts) == [5]
    assert constant.std == 0.0
    assert (empty.count, empty.missing, empty.missing_rate) == (0, 5, 1.0)
    assert empty.to_dict()["mean"] is None and empty.to_dict()["edges"] == []
    # a value that is not a finite number counts as missing
    assert (inf.count, inf.missing) == (2, 3)
    assert (nullable.count, nullable.missing) == (3, 2)
    assert isinstance(nullable, NumericProfile) and nullable.mean == 3.0


def test_column_kinds() -> None:
    frame = pd.DataFrame(
        {
            "number": [1.5, 2.5, 3.5],
            "integer": [1, 2, 2],
            "text": ["x", "y", None],
            "string": pd.array(["x", None, "x"], dtype="string"),
            "category": pd.Categorical(["p", "q", "p"]),
            "flag": [True, False, True],
            "when": pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
        }
    )
    features = build_profile(frame, categorical=["integer"]).features
    kinds = {name: fp.kind for name, fp in features.items()}
    assert kinds == {
        "number": "numeric",
        "integer": "categorical",
        "text": "categorical",
        "string": "categorical",
        "category": "categorical",
        "flag": "categorical",
        "when": "numeric",
    }
    integer, text, flag, when = (features[c] for c in ("integer", "text", "flag", "when"))
    assert isinstance(integer, CategoricalProfile) and integer.categories == {"2": 2, "1": 1}
    assert isinstance(text, CategoricalProfile) and (text.count, text.missing) == (2, 1)
    assert isinstance(flag, CategoricalProfile) and flag.categories == {"True": 2, "False": 1}
    assert isinstance(when, NumericProfile) and when.missing == 1
    assert when.max - when.min == 2 * 86400  # seconds


def test_categorical_missing_values_and_cap() -> None:
    values = pd.Series(["a"] * 5 + ["b"] * 3 + ["c", "d"] + [None, np.nan])
    fp = categorical_profile(values, max_categories=2)
    assert fp.categories == {"a": 5, "b": 3}
    assert (fp.other, fp.n_categories, fp.count, fp.missing) == (2, 4, 10, 2)
    assert fp.missing_rate == pytest.approx(2 / 12)


def test_same_category_key_for_equal_numbers() -> None:
    with_nan = pd.Series([1.0, 2.0, np.nan])  # an integer column that became float
    plain = pd.Series([1, 2, 2])
    assert set(categorical_profile(with_nan).categories) == {"1", "2"}
    assert set(categorical_profile(plain).categories) == {"1", "2"}


def test_predictions_profile() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    classes = build_profile(frame, predictions=np.array(["yes", "no", "yes", "yes"]))
    assert isinstance(classes.predictions, CategoricalProfile)
    assert classes.predictions.categories == {"yes": 3, "no": 1}
    values = build_profile(frame, predictions=np.array([0.1, 0.5, np.nan, 0.7]))
    assert isinstance(values.predictions, NumericProfile) and values.predictions.missing == 1
    forced = build_profile(frame, predictions=np.array([0, 1, 1, 0]), prediction_kind="value")
    assert isinstance(forced.predictions, NumericProfile)
    assert isinstance(build_profile(frame, predictions=np.array([0, 1, 1, 0])).predictions,
                      CategoricalProfile)  # fmt: skip
    with pytest.raises(DataError, match="1-D"):
        build_profile(frame, predictions=np.zeros((4, 2)))
    with pytest.raises(DataError, match="without predictions"):
        build_profile(frame, prediction_kind="class")


def test_json_round_trip(profile: Profile) -> None:
    frame = pd.DataFrame({"empty": [np.nan, np.nan], "x": [1.0, np.inf]})
    for original in (profile, build_profile(frame, predictions=np.array([0.5, 1.5]))):
        text = json.dumps(original.to_dict(), allow_nan=False)
        data = json.loads(text)
        assert data["version"] == FORMAT_VERSION
        restored = Profile.from_dict(data)
        assert restored.to_dict() == original.to_dict()
        assert restored.count == original.count
        for name, fp in original.features.items():
            assert type(restored.features[name]) is type(fp)


def test_json_format(profile: Profile) -> None:
    data = profile.to_dict()
    assert set(data) == {"version", "count", "features", "predictions"}
    assert set(data["features"]["normal_0"]) == {
        "kind", "count", "missing", "missing_rate", "mean", "std", "min", "max",
        "edges", "counts", "means",
    }  # fmt: skip
    assert set(data["features"]["cat_0"]) == {
        "kind", "count", "missing", "missing_rate", "categories", "other", "n_categories"
    }  # fmt: skip
    assert data["features"]["with_none"]["missing_rate"] == pytest.approx(0.1, abs=0.005)


def test_damaged_or_newer_profiles_are_rejected(profile: Profile) -> None:
    data = profile.to_dict()
    with pytest.raises(DataError, match="version"):
        Profile.from_dict({**data, "version": FORMAT_VERSION + 1})
    with pytest.raises(DataError, match="damaged"):
        Profile.from_dict({"version": 1, "count": 3})
    with pytest.raises(DataError, match="kind"):
        Profile.from_dict({**data, "features": {"x": {"kind": "text"}}})
    broken = {
        "kind": "numeric",
        "count": 1,
        "missing": 0,
        "edges": [1.0],
        "counts": [],
        "means": [],
    }
    with pytest.raises(DataError, match="lengths"):
        Profile.from_dict({**data, "features": {"x": broken}})


def test_bad_input_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not in the data: 'nope'"):
        build_profile(pd.DataFrame({"x": [1]}), categorical=["nope"])
    with pytest.raises(DataError, match="no rows"):
        build_profile(pd.DataFrame({"x": []}))
    with pytest.raises(DataError, match="not strings"):
        build_profile(pd.DataFrame({0: [1.0]}))
    with pytest.raises(DataError, match="DataFrame"):
        build_profile({"x": [1.0]})  # type: ignore[arg-type]


def test_profile_of_100k_rows_by_50_columns_is_fast() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100_000, 50)), columns=[f"f{j}" for j in range(50)])
    build_profile(frame.head(1000))  # warm up
    start = time.perf_counter()
    build_profile(frame)
    # well under a second on an idle 2-core machine; generous for a busy CI runner
    assert time.perf_counter() - start < 3.0
