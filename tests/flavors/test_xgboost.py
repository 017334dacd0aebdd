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


@pytest.fixture(scope="module")
def wine():
    from sklearn.datasets import load_wine

    return load_wine(return_X_y=True, as_frame=True)


@pytest.mark.parametrize(
    ("objective", "file"),
    [("multi:softprob", "wine.ubj"), ("multi:softmax", "wine.xgboost.json")],
)
def test_native_multiclass_booster_file_registers_as_a_classifier(
    wine, tmp_path, settings, objective, file
):
    import modelport
    from modelport.model_files import read_model_file

    X, y = wine
    params = {"objective": objective, "num_class": 3, "max_depth": 2}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=5)
    booster.save_model(tmp_path / file)
    model = read_model_file(tmp_path / file)  # as `modelport register FILE --sample` does
    version = modelport.register(model, "wine", sample=X, settings=settings)
    outputs = version.signature["outputs"]
    assert (outputs["kind"], outputs["classes"], outputs["has_proba"]) == ("class", [0, 1, 2], True)

    loaded = modelport.load("wine", settings=settings)
    margin = booster.predict(xgb.DMatrix(X), output_margin=True)
    expected = np.exp(margin) / np.exp(margin).sum(axis=1, keepdims=True)
    proba = loaded.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-5)
    np.testing.assert_array_equal(loaded.predict(X), np.argmax(expected, axis=1))
    assert (loaded.predict(X) == y).mean() > 0.9


def test_binary_logistic_booster_is_a_classifier(xy, tmp_path):
    x, y = xy
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, label=y), 5)
    p = booster.predict(xgb.DMatrix(x))
    predictor = check_flavor(XGBOOST, booster, x, tmp_path, expected_predict=(p > 0.5).astype(int))
    assert predictor.task == "classification" and predictor.classes == [0, 1]
    np.testing.assert_allclose(predictor.predict_proba(x)[:, 1], p)


def test_booster_saved_before_classes_were_recorded_keeps_its_raw_output(xy, tmp_path):
    x, y = xy
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, label=y), 5)
    options = XGBOOST.save(booster, tmp_path)
    options.pop("classes")
    predictor = XGBOOST.load(tmp_path, options, trusted=False)
    assert predictor.task == "other" and predictor.classes is None
    np.testing.assert_allclose(predictor.predict(x), booster.predict(xgb.DMatrix(x)))
