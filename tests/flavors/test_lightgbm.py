from __future__ import annotations

import sys

import numpy as np
import pytest

from modelport.errors import FlavorError, MissingExtraError
from modelport.flavors.conformance import check_flavor
from modelport.flavors.lightgbm import LIGHTGBM, import_lightgbm

lgb = pytest.importorskip("lightgbm")

SMALL = {"n_estimators": 8, "num_leaves": 7, "min_child_samples": 5, "verbose": -1}


def test_classifier_binary_on_numpy(xy, tmp_path):
    x, y = xy
    model = lgb.LGBMClassifier(**SMALL).fit(x, y)
    predictor = check_flavor(LIGHTGBM, model, x, tmp_path)
    assert predictor.task == "classification"
    assert predictor.classes == [0, 1]
    # integer input goes through the same float64 conversion as the wrapper's
    ints = np.round(x * 3).astype(int)
    np.testing.assert_array_equal(predictor.predict(ints), model.predict(ints))


def test_classifier_multiclass_string_labels(xy_multiclass, tmp_path):
    x, y = xy_multiclass
    model = lgb.LGBMClassifier(**SMALL).fit(x, y)
    predictor = check_flavor(LIGHTGBM, model, x, tmp_path)
    assert predictor.classes == ["high", "low", "mid"]


def test_classifier_on_frame_with_category_column(frame, tmp_path):
    df, y = frame
    df = df.assign(city=df["city"].astype("category"))
    labels = np.where(y == 1, "yes", "no")
    model = lgb.LGBMClassifier(**SMALL).fit(df, labels)
    predictor = check_flavor(LIGHTGBM, model, df, tmp_path)
    assert predictor.classes == ["no", "yes"]
    # the category mapping travels in the model text: a reordered frame still predicts alike
    shuffled = df.iloc[::-1].reset_index(drop=True)
    np.testing.assert_array_equal(predictor.predict(shuffled), model.predict(shuffled))


def test_regressor(xy_regression, tmp_path):
    x, y = xy_regression
    model = lgb.LGBMRegressor(**SMALL).fit(x, y)
    predictor = check_flavor(LIGHTGBM, model, x, tmp_path)
    assert predictor.task == "regression"
    assert predictor.predict_proba(x) is None


def test_raw_booster(xy_regression, tmp_path):
    x, y = xy_regression
    params = {"objective": "regression", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=5)
    predictor = check_flavor(LIGHTGBM, booster, x, tmp_path)
    assert predictor.task == "regression"


def test_custom_objective_is_refused(xy_regression, tmp_path):
    x, y = xy_regression

    def squared_error(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_true)

    model = lgb.LGBMRegressor(objective=squared_error, **SMALL).fit(x, y)
    with pytest.raises(FlavorError, match="custom objective"):
        LIGHTGBM.save(model, tmp_path)


def test_missing_library(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingExtraError, match="lightgbm"):
        import_lightgbm()
    with pytest.raises(MissingExtraError):
        LIGHTGBM.load(tmp_path, {"wrapper": "LGBMRegressor"}, trusted=False)


@pytest.mark.parametrize("objective", ["multiclass", "softmax", "multiclassova"])
def test_native_multiclass_booster_file_registers_as_a_classifier(tmp_path, settings, objective):
    from sklearn.datasets import load_wine

    import modelport
    from modelport.model_files import read_model_file

    X, y = load_wine(return_X_y=True, as_frame=True)
    params = {"objective": objective, "num_class": 3, "num_leaves": 4, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=5)
    booster.save_model(tmp_path / "wine.txt")
    model = read_model_file(tmp_path / "wine.txt")  # as `modelport register FILE --sample` does
    version = modelport.register(model, "wine", sample=X, settings=settings)
    outputs = version.signature["outputs"]
    assert (outputs["kind"], outputs["classes"], outputs["has_proba"]) == ("class", [0, 1, 2], True)

    loaded = modelport.load("wine", settings=settings)
    expected = booster.predict(X)
    np.testing.assert_allclose(loaded.predict_proba(X), expected)
    np.testing.assert_array_equal(loaded.predict(X), np.argmax(expected, axis=1))


def test_binary_booster_is_a_classifier(xy, tmp_path):
    x, y = xy
    params = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=5)
    p = booster.predict(x)
    labels = (p > 0.5).astype(int)
    predictor = check_flavor(LIGHTGBM, booster, x, tmp_path, expected_predict=labels)
    assert predictor.task == "classification" and predictor.classes == [0, 1]
    np.testing.assert_allclose(predictor.predict_proba(x)[:, 1], p)
    np.testing.assert_array_equal(predictor.predict(x), (p > 0.5).astype(int))
