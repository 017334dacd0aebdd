"""The public Python API end to end: register, load, predict, aliases, search."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.errors import (
    ArtifactIntegrityError,
    InvalidArgument,
    ModelportError,
    NonFinitePrediction,
    UntrustedArtifactError,
    ValidationError,
)
from modelport.settings import Settings


def test_public_api_is_small_and_exported() -> None:
    import inspect

    for name in modelport.__all__:
        assert hasattr(modelport, name), name
    public = {n for n in dir(modelport) if not n.startswith("_")}
    # anything public beyond __all__ may only be a subpackage made visible by importing it
    extra = public - set(modelport.__all__)
    assert all(inspect.ismodule(getattr(modelport, n)) for n in extra), extra
    assert len(modelport.__all__) <= 16


def test_every_error_subclasses_the_base() -> None:
    import inspect

    from modelport import errors

    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    for cls in classes:
        if cls is not errors.FieldProblem:
            assert issubclass(cls, ModelportError), cls


def credit_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    from modelport.demo.data import FEATURES, credit_data

    data = credit_data(n, seed=seed)
    return data[FEATURES], data["default"].to_numpy()


def test_register_load_predict_round_trip(settings: Settings) -> None:
    from modelport.demo.training import train_logistic

    data = modelport.demo.data.credit_data(1000, seed=1)  # type: ignore[attr-defined]
    trained = train_logistic(data.iloc[:800], data.iloc[800:])
    X = data.drop(columns="default")
    version = modelport.register(
        trained.model,
        "credit",
        sample=X.iloc[:800],
        metrics=trained.metrics,
        tags={"team": "risk"},
        settings=settings,
    )
    assert version.version == 1 and version.flavor == "sklearn"
    assert version.profile is not None and version.signature is not None
    model = modelport.load("credit", settings=settings)
    expected = trained.model.predict(X.iloc[800:])
    np.testing.assert_array_equal(model.predict(X.iloc[800:]), expected)
    records = X.iloc[800:810].to_dict(orient="records")
    np.testing.assert_array_equal(model.predict(records), expected[:10])
    np.testing.assert_allclose(
        model.predict_proba(records), trained.model.predict_proba(X.iloc[800:810])
    )
    # the demo's OneHotEncoder ignores unknown categories, so the signature accepts them
    assert model.predict([{**records[0], "region": "atlantis"}]).shape == (1,)
    with pytest.raises(ValidationError) as info:
        model.predict([{**records[0], "region": None}])
    assert info.value.problems[0].field == "region"
    modelport.set_alias("credit:1", "production", settings=settings)
    assert modelport.load("credit@production", settings=settings).version.version == 1
    assert [m.name for m in modelport.list_models(settings=settings)] == ["credit"]
    assert [
        v.version for v in modelport.search("cred", tags={"team": "risk"}, settings=settings)
    ] == [1]


def test_numpy_model_gets_an_array_signature(settings: Settings) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    version = modelport.register(clf, "arr", sample=X, settings=settings)
    assert version.signature["input_kind"] == "ndarray"
    assert version.signature["outputs"]["classes"] == [0, 1]
    model = modelport.load("arr:1", settings=settings)
    np.testing.assert_array_equal(model.predict(X[:5].tolist()), clf.predict(X[:5]))


def test_non_finite_outputs_are_an_error_naming_the_rows(settings: Settings) -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    ridge = Ridge().fit(X, X @ np.array([3.0, -2.0, 1.0, 0.5]))
    modelport.register(ridge, "ridge", sample=X, settings=settings)
    model = modelport.load("ridge", settings=settings)
    rows = np.vstack([X[:2], np.sign(ridge.coef_) * 1e308, X[2:3]])  # row 2 overflows to inf
    with pytest.raises(NonFinitePrediction, match=r"for rows 2 \(") as caught:
        model.predict(rows)
    assert caught.value.rows == [2] and caught.value.status == 422
    np.testing.assert_allclose(model.predict(X[:3]), ridge.predict(X[:3]))

    clf = LogisticRegression().fit(X, (X[:, 0] > X[:, 1]).astype(int))
    assert clf.coef_[0, 0] > 2 and clf.coef_[0, 1] < -2  # so 1e308 in both gives inf - inf
    modelport.register(clf, "clf", sample=X, settings=settings)
    loaded = modelport.load("clf", settings=settings)
    huge = np.vstack([X[:2], [1e308, 1e308, 0, 0]])
    with pytest.raises(NonFinitePrediction, match=r"class probabilities .*rows 2 \("):
        loaded.predict_proba(huge)  # a NaN decision function: NaN probabilities
    with pytest.raises(NonFinitePrediction, match=r"class probabilities .*rows 2 \("):
        loaded.predict(huge)  # its label would be a class picked from NaN
    np.testing.assert_allclose(loaded.predict_proba(X[:3]), clf.predict_proba(X[:3]))


def test_one_call_gives_labels_and_probabilities_exactly_as_predict(settings: Settings) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])]
    forest = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5)).fit(X, y)
    modelport.register(forest, "forest", sample=X, settings=settings)
    model = modelport.load("forest", settings=settings)
    labels, proba = model.outputs(model.prepare(X), proba=True)
    expected = forest.predict(X)
    assert labels.dtype == expected.dtype and labels.tolist() == expected.tolist()
    assert proba is not None
    np.testing.assert_array_equal(proba, forest.predict_proba(X))


def test_a_model_that_cannot_take_its_sample_is_not_registered(settings: Settings) -> None:
    rng = np.random.default_rng(0)
    clf = LogisticRegression().fit(rng.normal(size=(50, 3)), rng.integers(0, 2, 50))
    with pytest.raises(ModelportError):
        modelport.register(clf, "wrong", sample=rng.normal(size=(10, 5)), settings=settings)
    assert modelport.list_models(settings=settings) == []


def test_tampered_artifact_is_refused_at_load(settings: Settings) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    version = modelport.register(clf, "t", sample=X, settings=settings)
    artifact = next(
        p for p in (settings.resolved_home() / "artifacts" / "t").rglob("*") if p.is_file()
    )
    artifact.write_bytes(artifact.read_bytes()[:-1] + b"x")
    with pytest.raises(ArtifactIntegrityError):
        modelport.load("t", settings=settings)
    shutil.rmtree(version.artifact_uri)
    with pytest.raises(ModelportError):
        modelport.load("t", settings=settings)


def test_pickled_models_need_trust_to_load(settings: Settings) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    modelport.register(clf, "p", sample=X, serialization="joblib", settings=settings)
    with pytest.raises(UntrustedArtifactError):
        modelport.load("p", settings=settings)
    assert modelport.load("p", trusted=True, settings=settings).predict(X[:2]).shape == (2,)
    trusting = Settings(home=settings.home, trust_pickles=True)
    assert modelport.load("p", settings=trusting).predict(X[:2]).shape == (2,)


def double(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch)[:, 0] * 2


def test_plain_python_function_model(settings: Settings) -> None:
    X = np.arange(12, dtype=float).reshape(4, 3)
    version = modelport.register(double, "fn", sample=X, settings=settings)
    assert version.flavor == "python"
    assert modelport.load("fn", settings=settings).predict([[5, 0, 0]]).tolist() == [10.0]


def test_drift_between_two_frames() -> None:
    from modelport.demo.data import FEATURES, credit_data

    reference = credit_data(20_000, seed=1)[FEATURES]
    same = credit_data(20_000, seed=2)[FEATURES]
    shifted = credit_data(20_000, seed=3, shift=True)[FEATURES]
    assert modelport.drift(reference, same).to_dict()["drift"] is False
    report = modelport.drift(reference, shifted).to_dict()
    assert report["drift"] is True
    assert {"annual_income", "purpose", "employment_years"} <= set(report["drifted_features"])
    assert "crypto" in report["features"]["purpose"]["unseen_categories"]


def test_probabilities_of_a_model_without_them_is_the_callers_mistake(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    settings = Settings(home=tmp_path / "home")
    X = np.random.default_rng(0).normal(size=(40, 3))
    modelport.register(Ridge().fit(X, X[:, 0]), "ridge", sample=X, settings=settings)
    model = modelport.load("ridge", settings=settings)
    with pytest.raises(InvalidArgument, match="ridge:1 has no class probabilities") as info:
        model.predict_proba(X[:2])
    assert info.value.status == 400


def test_zero_rows_are_refused_before_the_model_sees_them(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    X = np.random.default_rng(0).normal(size=(40, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    modelport.register(model, "lr", sample=X, settings=settings)
    loaded = modelport.load("lr", settings=settings)
    for call in (loaded.predict, loaded.predict_proba):
        with pytest.raises(ValidationError, match="no input rows"):
            call(X[:0])
