from __future__ import annotations

import sys

import numpy as np
import pytest

from modelport.errors import ArtifactError, MissingExtraError
from modelport.flavors.conformance import check_flavor
from modelport.flavors.xgboost import XGBOOST, import_xgboost

xgb = pytest.importorskip("xgboost")


def test_classifier_binary(xy, tmp_path):
    x, y = xy
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    predictor = check_flavor(XGBOOST, model, x, tmp_path)
    assert predictor.task == "classification"
    assert predictor.classes == [0, 1]


def test_classifier_multiclass(xy_multiclass, tmp_path):
    x, labels = xy_multiclass
    y = np.unique(labels, return_inverse=True)[1]  # XGBoost wants 0..k-1
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    predictor = check_flavor(XGBOOST, model, x, tmp_path, serialization="json")
    assert predictor.classes == [0, 1, 2]


def test_classifier_on_frame_with_categories(frame, tmp_path):
    df, y = frame
    df = df.assign(city=df["city"].astype("category"))
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2, enable_categorical=True).fit(df, y)
    check_flavor(XGBOOST, model, df, tmp_path)


def test_regressor(xy_regression, tmp_path):
    x, y = xy_regression
    model = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(x, y)
    predictor = check_flavor(XGBOOST, model, x, tmp_path)
    assert predictor.task == "regression"
    assert predictor.predict_proba(x) is None


def test_raw_booster(xy_regression, tmp_path):
    x, y = xy_regression
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=5)
    expected = booster.predict(xgb.DMatrix(x))
    predictor = check_flavor(XGBOOST, booster, x, tmp_path, expected_predict=expected)
    assert predictor.task == "regression"


def test_never_pickles(xy, tmp_path):
    x, y = xy
    options = XGBOOST.save(xgb.XGBRegressor(n_estimators=2).fit(x, y), tmp_path)
    assert options["file"] == "model.ubj"
    assert options["wrapper"] == "XGBRegressor"
    with pytest.raises(ArtifactError, match="wrapper"):
        XGBOOST.load(tmp_path, {**options, "wrapper": "os.system"}, trusted=True)


def test_missing_library(monkeypatch, xy, tmp_path):
    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(MissingExtraError) as info:
        import_xgboost()
    assert info.value.extra == "xgboost"
    assert "modelport[xgboost]" in str(info.value)
    with pytest.raises(MissingExtraError):
        XGBOOST.load(tmp_path, {"wrapper": "XGBRegressor", "file": "model.ubj"}, trusted=False)
