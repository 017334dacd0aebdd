"""ONNX conversion: each flavor's model, registered through the ONNX flavor, predicts as before."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelport
from modelport.errors import UnsupportedModel
from modelport.loaded import load_model
from modelport.optimization.conversion import to_onnx
from modelport.optimization.parity import Tolerance, compare, outputs_of
from modelport.registry import Registry


def numeric_frame(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows) * 10})
    frame["x3"] = rng.uniform(0, 5, rows)
    labels = ((frame.x1 + frame.x2 / 10 + rng.normal(size=rows) * 0.3) > 0).astype(int)
    return frame, labels.to_numpy()


def mixed_frame(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 15, rows),
            "age": rng.integers(18, 80, rows),
            "home": rng.choice(["rent", "own", "mortgage"], rows),
        }
    )
    score = (frame.income - 50) / 15 + (frame.home == "own") - (frame.age - 50) / 30
    labels = np.where(score + rng.normal(size=rows) * 0.3 > 0, "good", "bad")
    return frame, labels


def mixed_pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["income", "age"]),
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["home"]),
        ]
    )
    return make_pipeline(encode, LogisticRegression())


def assert_round_trip(
    registry: Registry, model: Any, frame: pd.DataFrame | np.ndarray, classes_in_graph: bool = True
) -> None:
    """Register the original, convert, register the graph, compare through modelport.load."""
    original = modelport.register(model, "orig", sample=frame, registry=registry)
    loaded = load_model(registry, original.ref)
    assert loaded.signature is not None
    inputs = loaded.prepare(frame)
    proto = to_onnx(original.flavor, loaded.predictor, loaded.signature, inputs)
    converted = modelport.register(proto, "conv", sample=frame, registry=registry)
    assert converted.flavor == "onnx"
    onnx_model = modelport.load(converted.ref, registry=registry)
    records = pd.DataFrame(frame).to_dict("records") if isinstance(frame, pd.DataFrame) else frame
    expected = modelport.load(original.ref, registry=registry).predict(records)
    got = onnx_model.predict(records)
    assert [str(v) for v in got] == [str(v) for v in expected] or np.allclose(
        np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=1e-4, atol=1e-4
    )
    report = compare(
        outputs_of(loaded, inputs), outputs_of(onnx_model, onnx_model.prepare(frame)), Tolerance()
    )
    assert report.passed, report.to_dict()
    if classes_in_graph:
        assert onnx_model.classes == loaded.classes


def test_logistic_regression_on_an_array(registry: Registry) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, labels = numeric_frame()
    array = frame.to_numpy()
    assert_round_trip(registry, LogisticRegression().fit(array, labels), array)


@pytest.mark.parametrize("kind", ["forest", "extra", "gbm", "tree", "mlp", "ridge"])
def test_scikit_learn_estimators_on_a_frame(registry: Registry, kind: str) -> None:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    frame, labels = numeric_frame()
    models: dict[str, Any] = {
        "forest": RandomForestClassifier(n_estimators=20, random_state=0),
        "extra": ExtraTreesClassifier(n_estimators=20, random_state=0),
        "gbm": GradientBoostingClassifier(n_estimators=30, random_state=0),
        "tree": DecisionTreeClassifier(max_depth=5, random_state=0),
        "mlp": MLPClassifier(hidden_layer_sizes=(8,), max_iter=2000, random_state=0),
        "ridge": Ridge(),
    }
    target: Any = frame.x1 * 3 + frame.x3 if kind == "ridge" else labels
    # an MLP's graph picks labels with ArgMax: no classifier node carries the classes
    assert_round_trip(registry, models[kind].fit(frame, target), frame, kind != "mlp")


def test_hist_gradient_boosting_converts_or_says_why(registry: Registry) -> None:
    """skl2onnx 1.20 fails on scikit-learn 1.9's HistGradientBoosting (a boolean attribute):
    that must come out as UnsupportedModel naming the estimator, never as a wrong model."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame, labels = numeric_frame()
    model = HistGradientBoostingClassifier(max_iter=20).fit(frame, labels)
    try:
        assert_round_trip(registry, model, frame)
    except UnsupportedModel as exc:
        assert "HistGradientBoostingClassifier" in exc.message


def test_pipeline_with_string_categories(registry: Registry) -> None:
    frame, labels = mixed_frame()
    assert_round_trip(registry, mixed_pipeline().fit(frame, labels), frame)


def test_pipeline_with_imputer_and_ordinal_encoder(registry: Registry) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame, _ = mixed_frame()
    target = frame.income * 2 + (frame.home == "own") * 10
    encode = ColumnTransformer(
        [
            ("numbers", SimpleImputer(), ["income", "age"]),
            ("categories", OrdinalEncoder(), ["home"]),
        ]
    )
    model = make_pipeline(encode, RandomForestRegressor(n_estimators=20, random_state=0))
    assert_round_trip(registry, model.fit(frame, target), frame)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "booster"])
def test_xgboost(registry: Registry, kind: str) -> None:
    xgb = pytest.importorskip("xgboost")
    frame, labels = numeric_frame()
    if kind == "classifier":
        model: Any = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(frame, labels)
    elif kind == "regressor":
        model = xgb.XGBRegressor(n_estimators=20, max_depth=3).fit(frame, frame.x1 * 2)
    else:
        data = xgb.DMatrix(frame, label=labels)
        model = xgb.train({"objective": "binary:logistic", "max_depth": 3}, data, 20)
    assert_round_trip(registry, model, frame)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "booster"])
def test_lightgbm(registry: Registry, kind: str) -> None:
    lgb = pytest.importorskip("lightgbm")
    frame, labels = numeric_frame()
    settings = {"n_estimators": 20, "num_leaves": 8, "verbose": -1}
    if kind == "classifier":
        model: Any = lgb.LGBMClassifier(**settings).fit(frame, labels)
    elif kind == "regressor":
        model = lgb.LGBMRegressor(**settings).fit(frame, frame.x1 * 2)
    else:
        data = lgb.Dataset(frame, label=labels)
        model = lgb.train({"objective": "binary", "num_leaves": 8, "verbose": -1}, data, 20)
    assert_round_trip(registry, model, frame)


def test_xgboost_as_the_last_step_of_a_pipeline(registry: Registry) -> None:
    xgb = pytest.importorskip("xgboost")
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    # a preprocessing step that does no arithmetic: a scaler's float32 result may cross a
    # split threshold that float64 does not, which the parity gate would rightly refuse
    frame, labels = numeric_frame()
    model = make_pipeline(SimpleImputer(), xgb.XGBClassifier(n_estimators=20, max_depth=3))
    assert_round_trip(registry, model.fit(frame, labels), frame)


def test_a_python_function_model_is_unsupported(registry: Registry) -> None:
    frame, _ = numeric_frame(rows=50)

    def rule(batch: pd.DataFrame) -> np.ndarray:
        return (batch["x1"] > 0).to_numpy().astype(int)

    version = modelport.register(rule, "rule", sample=frame, registry=registry)
    loaded = load_model(registry, version.ref, trusted=True)
    assert loaded.signature is not None
    with pytest.raises(UnsupportedModel, match="python") as info:
        to_onnx(version.flavor, loaded.predictor, loaded.signature, loaded.prepare(frame))
    assert "scikit-learn" in (info.value.hint or "")


def test_an_estimator_skl2onnx_lacks_is_unsupported_naming_it(registry: Registry) -> None:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression

    frame, _ = numeric_frame(rows=80)
    model = TransformedTargetRegressor(LinearRegression(), func=np.log1p, inverse_func=np.expm1)
    version = modelport.register(model.fit(frame, frame.x3), "ttr", sample=frame, registry=registry)
    loaded = load_model(registry, version.ref)
    assert loaded.signature is not None
    with pytest.raises(UnsupportedModel, match="TransformedTargetRegressor"):
        to_onnx(version.flavor, loaded.predictor, loaded.signature, loaded.prepare(frame))


def test_an_onnx_model_is_already_onnx(registry: Registry) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, labels = numeric_frame(rows=80)
    original = modelport.register(
        LogisticRegression().fit(frame, labels), "lr", sample=frame, registry=registry
    )
    loaded = load_model(registry, original.ref)
    assert loaded.signature is not None
    proto = to_onnx("sklearn", loaded.predictor, loaded.signature, loaded.prepare(frame))
    version = modelport.register(proto, "lr-onnx", sample=frame, registry=registry)
    onnx_loaded = load_model(registry, version.ref)
    assert onnx_loaded.signature is not None
    with pytest.raises(UnsupportedModel, match="already ONNX"):
        to_onnx("onnx", onnx_loaded.predictor, onnx_loaded.signature, frame)
