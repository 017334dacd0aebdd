from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import modelport
from modelport.errors import InvalidArgument, UnsupportedModel
from modelport.optimization.pruning import prune
from modelport.registry import Registry


def _data(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6))
    return x, (x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)


def test_a_forest_keeps_the_fewest_trees_meeting_the_target() -> None:
    x, y = _data()
    forest = RandomForestClassifier(n_estimators=60, max_depth=6, random_state=0).fit(x, y)
    result = prune("sklearn", forest, x, 0.97)
    assert result.total == 60 and 1 <= result.kept < 60
    # the reported agreement is the pruned model's, recomputed here
    agreement = float(np.mean(result.model.predict(x) == forest.predict(x)))
    assert result.agreement == pytest.approx(agreement) and agreement >= 0.97
    assert len(forest.estimators_) == 60  # the original is untouched


def test_boosting_keeps_a_prefix_of_its_stages() -> None:
    x, y = _data()
    boosted = GradientBoostingClassifier(n_estimators=80, max_depth=2, random_state=0).fit(x, y)
    result = prune("sklearn", boosted, x, 0.98)
    assert result.kept <= 80 and result.agreement >= 0.98
    assert result.model.n_estimators == result.kept
    np.testing.assert_array_equal(
        result.model.estimators_[:, 0][0].tree_.threshold, boosted.estimators_[0, 0].tree_.threshold
    )


def test_a_regressor_agrees_within_its_spread() -> None:
    x, _ = _data()
    target = x[:, 0] * 3 + x[:, 1]
    forest = RandomForestRegressor(n_estimators=40, max_depth=6, random_state=0).fit(x, target)
    result = prune("sklearn", forest, x, 0.9)
    full, pruned = forest.predict(x), result.model.predict(x)
    assert 1 - np.mean(np.abs(full - pruned)) / np.std(full) == pytest.approx(result.agreement)
    assert result.agreement >= 0.9


def test_a_pipeline_is_pruned_in_its_last_step_and_registers(registry: Registry) -> None:
    x, y = _data()
    frame = pd.DataFrame(x, columns=[f"n{i}" for i in range(6)])
    frame["kind"] = np.where(x[:, 2] > 0, "a", "b")
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("cat", OneHotEncoder(handle_unknown="ignore"), ["kind"])],
                    remainder="passthrough",
                ),
            ),
            ("clf", RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0)),
        ]
    ).fit(frame, y)
    result = prune("sklearn", model, frame, 0.95)
    assert result.kept <= 30 and len(model.steps[-1][1].estimators_) == 30
    version = modelport.register(result.model, "pruned", sample=frame, registry=registry)
    loaded = modelport.load(version.ref, registry=registry)
    np.testing.assert_array_equal(loaded.predict(frame), result.model.predict(frame))


def test_what_cannot_be_pruned_says_so() -> None:
    x, y = _data()
    with pytest.raises(UnsupportedModel, match="LogisticRegression"):
        prune("sklearn", LogisticRegression().fit(x, y), x, 0.99)
    with pytest.raises(UnsupportedModel, match="onnx"):
        prune("onnx", object(), x, 0.99)
    with pytest.raises(InvalidArgument, match="not a share"):
        prune("sklearn", LogisticRegression().fit(x, y), x, 1.5)
