"""Drift verdicts against a profile: the acceptance criteria, the report and its errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from monitoring_data import CATEGORIES, PROBS, make_frame

from modelport.errors import ConfigurationError, DataError
from modelport.monitoring import (
    DriftConfig,
    DriftReport,
    Profile,
    build_profile,
    detect_drift,
)

N = 100_000


def _json(report: DriftReport) -> dict:
    """The report through JSON, failing on NaN or infinity."""
    return json.loads(json.dumps(report.to_dict(), allow_nan=False))


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_no_false_alarm_on_the_same_distribution(profile: Profile, seed: int) -> None:
    report = detect_drift(profile, make_frame(N, seed=seed))
    assert report.drifted_features == []
    assert report.drift is False
    assert len(report.features) >= 20


def test_a_tenth_of_a_standard_deviation_shift_is_caught(profile: Profile) -> None:
    current = make_frame(N, seed=21)
    shifted = ["normal_0", "normal_7", "lognormal_0", "lognormal_5"]
    for column in shifted:
        current[column] += 0.1 * profile.features[column].std
    report = detect_drift(profile, current)
    assert report.drifted_features == shifted
    assert report.drift is True
    for column in shifted:
        feature = report.features[column]
        assert feature.distribution_drift and not feature.missing_drift
        assert feature.wasserstein == pytest.approx(0.1, abs=0.02)


def test_a_tenth_of_a_standard_deviation_shift_is_caught_with_a_small_reference() -> None:
    reference = make_frame(10_000, seed=22)
    current = make_frame(N, seed=23)
    current["normal_2"] += 0.1 * reference["normal_2"].std()
    assert detect_drift(build_profile(reference), current).drifted_features == ["normal_2"]


def test_a_five_percent_rise_in_missing_values_is_caught(profile: Profile) -> None:
    current = make_frame(N, seed=31)
    rng = np.random.default_rng(32)
    columns = ["normal_1", "cat_1", "with_nan", "with_none"]
    for column in columns:
        missing = None if current[column].dtype == object else np.nan
        current.loc[rng.random(N) < 0.05, column] = missing
    report = detect_drift(profile, current)
    assert report.drifted_features == columns
    for column in columns:
        feature = report.features[column]
        assert feature.missing_drift and not feature.distribution_drift
        rise = feature.missing_rate_current - feature.missing_rate_reference
        assert rise == pytest.approx(0.05 * (1 - feature.missing_rate_reference), abs=0.005)


def test_a_tenth_of_the_mass_moving_between_categories_is_caught(profile: Profile) -> None:
    current = make_frame(N, seed=41)
    rng = np.random.default_rng(42)
    probs = dict(zip(CATEGORIES, PROBS, strict=True))
    moves = {"cat_0": ("a", "b"), "cat_1": ("c", "d"), "cat_2": ("a", "d")}
    for column, (source, target) in moves.items():
        rows = (current[column] == source) & (rng.random(N) < 0.1 / probs[source])
        current.loc[rows, column] = target
    report = detect_drift(profile, current)
    assert report.drifted_features == list(moves)
    for column in moves:
        feature = report.features[column]
        assert feature.test == "chi_square" and feature.effect_measure == "jensen_shannon"
        assert feature.effect >= DriftConfig().js_threshold


def test_tiny_differences_at_a_million_rows_do_not_alarm() -> None:
    def frame(seed: int, shift: float, moved: float, extra_missing: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        n = 1_000_000
        sparse = rng.normal(size=n)
        sparse[rng.random(n) < 0.05 + extra_missing] = np.nan
        return pd.DataFrame(
            {
                "number": rng.normal(shift, size=n),
                "category": np.where(rng.random(n) < 0.5 + moved, "yes", "no"),
                "sparse": sparse,
                "alarm": rng.normal(10 * shift, size=n),  # 0.1 SD when shift is 0.01
            }
        )

    profile = build_profile(frame(51, 0.0, 0.0, 0.0))
    report = detect_drift(profile, frame(52, 0.01, 0.01, 0.005))
    # a 0.1 standard-deviation shift alarms at this size ...
    assert report.drifted_features == ["alarm"]
    # ... differences ten times smaller are significant, but too small to matter
    number, category, sparse = (report.features[c] for c in ("number", "category", "sparse"))
    assert number.p_value_adjusted < 0.05 and number.effect < DriftConfig().ks_threshold
    assert category.p_value_adjusted < 0.05 and category.effect < DriftConfig().js_threshold
    assert sparse.missing_p_value_adjusted < 0.05 and not sparse.missing_drift


def test_unseen_categories_are_reported(profile: Profile) -> None:
    current = make_frame(N, seed=61)
    rng = np.random.default_rng(62)
    current.loc[rng.random(N) < 0.002, "cat_0"] = "new"
    current.loc[rng.random(N) < 0.001, "cat_0"] = "newer"
    quiet = detect_drift(profile, current).features["cat_0"]
    assert quiet.unseen_categories == ("new", "newer")
    assert quiet.n_unseen_categories == 2
    assert quiet.unseen_share == pytest.approx(0.003, abs=0.0005)
    current.loc[rng.random(N) < 0.03, "cat_0"] = "new"
    loud = detect_drift(profile, current)
    assert loud.drifted_features == ["cat_0"]
    assert _json(loud)["features"]["cat_0"]["unseen_categories"] == ["new", "newer"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_high_cardinality_columns_do_not_false_alarm(seed: int) -> None:
    def frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "id": [f"u{v}" for v in rng.integers(0, 10**9, n)],  # every value new
                "long_tail": rng.zipf(1.3, n).astype(str),
                "smooth": rng.geometric(0.002, n).astype(str),  # > 1,000 categories
            }
        )

    rng = np.random.default_rng(seed)
    profile = build_profile(frame(20_000, rng))
    assert all(fp.other > 0 for fp in profile.features.values())  # the cap was hit
    current = frame(100_000, rng)
    assert detect_drift(profile, current).drifted_features == []
    # a frequent category that gains 10% of the rows still alarms
    current.loc[: 10_000 - 1, "smooth"] = "1"
    assert detect_drift(profile, current).drifted_features == ["smooth"]


def test_missing_values_need_no_preprocessing(profile: Profile) -> None:
    current = make_frame(2_000, seed=71).astype({"normal_3": object, "cat_3": object})
    current.loc[::7, "normal_3"] = None  # None in an object column of numbers
    current.loc[::5, "normal_4"] = np.inf  # infinities count as missing
    current.loc[::3, "cat_3"] = np.nan
    current["normal_5"] = pd.array([None] * 2_000, dtype="Float64")  # every value missing
    current["count"] = current["count"].astype("Int64")
    current.loc[::11, "count"] = pd.NA
    report = detect_drift(profile, current)
    data = _json(report)
    empty = data["features"]["normal_5"]
    assert empty["missing_drift"] and empty["missing_rate_current"] == 1.0
    assert empty["statistic"] is None and empty["p_value"] is None and empty["effect"] is None
    assert report.features["normal_3"].missing_rate_current == pytest.approx(1 / 7, abs=0.01)
    assert report.features["normal_4"].missing_rate_current == pytest.approx(0.2, abs=0.01)


def test_report_json_format(profile: Profile) -> None:
    current = make_frame(5_000, seed=81)
    current["unused"] = 1
    data = _json(detect_drift(profile, current))
    assert list(data) == [
        "drift", "drifted_features", "method", "config", "n_reference", "n_current",
        "extra_columns", "features", "predictions",
    ]  # fmt: skip
    assert (data["n_reference"], data["n_current"]) == (N, 5_000)
    assert data["extra_columns"] == ["unused"] and data["method"] == "binned"
    assert data["predictions"] is None
    assert data["config"] == DriftConfig().to_dict()
    common = {
        "drift", "kind", "test", "statistic", "p_value", "p_value_adjusted", "effect",
        "effect_measure", "psi", "distribution_drift", "n_reference", "n_current",
        "missing_rate_reference", "missing_rate_current", "missing_p_value",
        "missing_p_value_adjusted", "missing_drift",
    }  # fmt: skip
    numeric, categorical = data["features"]["normal_0"], data["features"]["cat_0"]
    assert set(numeric) == common | {"wasserstein"}
    assert set(categorical) == common | {"unseen_categories", "n_unseen_categories", "unseen_share"}
    assert (numeric["kind"], numeric["test"], numeric["effect_measure"]) == (
        "numeric", "ks", "ks_statistic"
    )  # fmt: skip
    assert data["features"]["flag"]["kind"] == "categorical"


def test_prediction_drift() -> None:
    rng = np.random.default_rng(91)
    frame = pd.DataFrame({"x": rng.normal(size=N)})
    labels = rng.choice(["cat", "dog"], p=[0.7, 0.3], size=N)
    scores = rng.beta(2, 5, size=N)
    by_class = build_profile(frame, predictions=labels)
    by_value = build_profile(frame, predictions=scores)

    same = detect_drift(
        by_class, frame, predictions=rng.choice(["cat", "dog"], p=[0.7, 0.3], size=N)
    )
    assert same.predictions is not None and not same.predictions.drift and not same.drift
    moved = detect_drift(
        by_class, frame, predictions=rng.choice(["cat", "dog"], p=[0.6, 0.4], size=N)
    )
    assert moved.predictions is not None and moved.predictions.drift
    assert moved.drift and moved.drifted_features == []  # the outputs drifted, not the inputs
    assert _json(moved)["predictions"]["kind"] == "categorical"

    shifted = detect_drift(by_value, frame, predictions=rng.beta(2, 4, size=N))
    assert shifted.predictions is not None and shifted.predictions.drift
    assert shifted.predictions.kind == "numeric" and shifted.predictions.name == "predictions"
    without = detect_drift(by_value, frame)
    assert without.predictions is None

    with pytest.raises(DataError, match="has none"):
        detect_drift(build_profile(frame), frame, predictions=scores)
    with pytest.raises(DataError, match="1-D"):
        detect_drift(by_value, frame, predictions=np.zeros((N, 2)))


def test_a_feature_named_predictions_is_an_ordinary_feature() -> None:
    frame = pd.DataFrame({"predictions": np.arange(1000.0)})
    profile = build_profile(frame, predictions=np.arange(1000.0))
    report = detect_drift(profile, frame, predictions=np.arange(1000.0) + 500)
    assert report.drifted_features == []
    assert report.predictions is not None and report.predictions.drift


def test_missing_and_extra_columns(profile: Profile) -> None:
    current = make_frame(1_000, seed=95).drop(columns=["normal_2", "cat_1"])
    with pytest.raises(DataError, match="lacks columns of the reference: 'normal_2', 'cat_1'"):
        detect_drift(profile, current)
    with pytest.raises(DataError, match="no rows"):
        detect_drift(profile, make_frame(1_000, seed=95).head(0))


def test_text_in_a_numeric_column_is_a_data_error(profile: Profile) -> None:
    current = make_frame(1_000, seed=96).astype({"normal_0": object})
    current.loc[3, "normal_0"] = "n/a"
    with pytest.raises(DataError, match="'normal_0' is numeric in the reference"):
        detect_drift(profile, current)


def test_the_profile_survives_json(profile: Profile) -> None:
    current = make_frame(20_000, seed=97)
    current["normal_9"] *= 1.2
    restored = Profile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert _json(detect_drift(restored, current)) == _json(detect_drift(profile, current))


def test_config() -> None:
    with pytest.raises(ConfigurationError, match="alpha"):
        DriftConfig(alpha=1.5)
    with pytest.raises(ConfigurationError, match="correction"):
        DriftConfig(correction="bonferroni")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="min_drifted_share"):
        DriftConfig(min_drifted_share=2)


def test_share_of_drifted_features_and_correction(profile: Profile) -> None:
    current = make_frame(N, seed=98)
    current["normal_0"] += 1.0
    one_of_many = detect_drift(profile, current, config=DriftConfig(min_drifted_share=0.25))
    assert one_of_many.drifted_features == ["normal_0"] and one_of_many.drift is False
    bh = detect_drift(profile, current, config=DriftConfig(correction="bh"))
    assert bh.drifted_features == ["normal_0"] and bh.drift is True
    assert _json(bh)["config"]["correction"] == "bh"
