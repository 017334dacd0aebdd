from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from modelport.errors import (
    ArtifactMissing,
    FlavorError,
    PredictionError,
    UntrustedArtifactError,
)
from modelport.flavors.conformance import check_flavor
from modelport.flavors.sklearn import SKLEARN

from . import _functions


def test_logistic_regression_on_numpy(xy, tmp_path):
    x, y = xy
    model = LogisticRegression().fit(x, y)
    predictor = check_flavor(SKLEARN, model, x, tmp_path)
    assert predictor.task == "classification"
    assert predictor.classes == [0, 1]
    assert all(type(c) is int for c in predictor.classes)


def test_multiclass_string_labels(xy_multiclass, tmp_path):
    x, y = xy_multiclass
    predictor = check_flavor(SKLEARN, LogisticRegression().fit(x, y), x, tmp_path)
    assert predictor.classes == ["high", "low", "mid"]
    assert all(type(c) is str for c in predictor.classes)


def test_pipeline_with_column_transformer_on_frame(frame, tmp_path):
    df, y = frame
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["income", "age"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ]
        ),
        LogisticRegression(),
    ).fit(df, y)
    predictor = check_flavor(SKLEARN, model, df, tmp_path)
    assert predictor.task == "classification"


def test_random_forest_regressor(xy_regression, tmp_path):
    x, y = xy_regression
    model = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    predictor = check_flavor(SKLEARN, model, x, tmp_path)
    assert predictor.task == "regression"
    assert predictor.classes is None
    assert predictor.predict_proba(x) is None


def test_transformer_predicts_with_transform(xy, tmp_path):
    x, _ = xy
    scaler = StandardScaler().fit(x)
    predictor = check_flavor(SKLEARN, scaler, x, tmp_path, expected_predict=scaler.transform(x))
    assert predictor.task == "other"


def test_skops_records_and_trusts_the_types_seen_at_save(xy, tmp_path):
    x, y = xy
    model = make_pipeline(FunctionTransformer(_functions.first_column), LogisticRegression())
    model.fit(x, y)
    predictor = check_flavor(SKLEARN, model, x, tmp_path)
    assert predictor.task == "classification"
    options = SKLEARN.save(model, tmp_path)
    assert options["serialization"] == "skops"
    assert f"{_functions.__name__}.first_column" in options["trusted_types"]


def test_skops_file_with_new_untrusted_types_is_refused(xy, tmp_path):
    x, y = xy
    options = SKLEARN.save(LogisticRegression().fit(x, y), tmp_path)
    swapped = make_pipeline(FunctionTransformer(_functions.first_column), LogisticRegression())
    import skops.io

    skops.io.dump(swapped.fit(x, y), tmp_path / options["file"])
    with pytest.raises(UntrustedArtifactError, match="first_column"):
        SKLEARN.load(tmp_path, options, trusted=True)


@pytest.mark.parametrize("serialization", ["joblib", "pickle"])
def test_pickle_formats_load_only_when_trusted(serialization, xy, tmp_path):
    x, y = xy
    model = LogisticRegression().fit(x, y)
    options = SKLEARN.save(model, tmp_path, serialization=serialization)
    assert options["serialization"] == serialization
    with pytest.raises(UntrustedArtifactError) as info:
        SKLEARN.load(tmp_path, options, trusted=False)
    assert "trusted=True" in str(info.value)
    assert "MODELPORT_TRUST_PICKLES=1" in str(info.value)
    check_flavor(SKLEARN, model, x, tmp_path / "check", serialization=serialization, trusted=True)


def test_unknown_serialization_and_missing_file(xy, tmp_path):
    x, y = xy
    model = LogisticRegression().fit(x, y)
    with pytest.raises(FlavorError, match="skops, joblib, pickle"):
        SKLEARN.save(model, tmp_path, serialization="dill")
    with pytest.raises(ArtifactMissing):
        SKLEARN.load(tmp_path, {"serialization": "skops", "file": "model.skops"}, trusted=False)


def test_prediction_failure_is_translated(xy, tmp_path):
    x, y = xy
    options = SKLEARN.save(LogisticRegression().fit(x, y), tmp_path)
    predictor = SKLEARN.load(tmp_path, options, trusted=False)
    with pytest.raises(PredictionError, match="failed to predict") as info:
        predictor.predict(np.zeros((2, 7)))
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize(
    ("name", "own"),
    [
        ("sklearn.tree._tree.Tree", True),
        ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", True),
        ("numpy.dtype", True),
        # a sklearn prefix is not enough: the name must resolve to that very class
        ("sklearn.foo:os.system", False),
        ("sklearn.base.clone", False),  # a function, not a class
        ("sklearn.utils.Bunch", False),  # re-exported: its own name is sklearn.utils._bunch
        ("sklearn.no_such_module.Thing", False),
        ("sklearnx.Model", False),
        ("numpy.load", False),
        ("numpy.f2py.__main__.main", False),  # importing it would run f2py
        ("os.system", False),
        ("builtins.eval", False),
        ("tests.flavors._functions.first_column", False),
    ],
)
def test_foreign_types_trusts_only_real_sklearn_and_numpy_classes(name, own):
    from modelport.flavors.sklearn import foreign_types

    assert foreign_types([name]) == ([] if own else [name])
