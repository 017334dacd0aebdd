from __future__ import annotations

from pathlib import Path
from typing import Any

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
from modelport.flavors import get_flavor
from modelport.flavors.lightgbm import LightGBMPredictor
from modelport.flavors.xgboost import XGBoostPredictor
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


def _saved_bytes(flavor: str, model: Any, directory: Path) -> int:
    directory.mkdir()
    get_flavor(flavor).save(model, directory)
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("wrapper", ["XGBClassifier", "Booster"])
def test_xgboost_keeps_a_prefix_of_its_rounds(wrapper: str, tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = _data()
    model = xgb.XGBClassifier(n_estimators=120, max_depth=4).fit(x, y)
    original = model if wrapper == "XGBClassifier" else model.get_booster()
    predictor = XGBoostPredictor(original, wrapper, [0, 1] if wrapper == "Booster" else None)
    result = prune("xgboost", original, x, 0.98)
    assert result.total == 120 and result.kept < 120 and result.agreement >= 0.98
    pruned = result.model
    booster = pruned.get_booster() if wrapper == "XGBClassifier" else pruned
    assert booster.num_boosted_rounds() == result.kept
    assert len(booster.get_dump()) == result.kept < len(model.get_booster().get_dump())
    # what the flavor predicts with the pruned model agrees as reported
    got = XGBoostPredictor(pruned, wrapper, predictor.classes).predict(x)
    assert float(np.mean(got == predictor.predict(x))) == pytest.approx(result.agreement)
    assert _saved_bytes("xgboost", pruned, tmp_path / "pruned") < _saved_bytes(
        "xgboost", original, tmp_path / "full"
    )
    assert model.get_booster().num_boosted_rounds() == 120  # the original is untouched


def test_an_early_stopped_xgboost_counts_its_best_rounds() -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = _data()
    model = xgb.XGBClassifier(n_estimators=300, max_depth=3, early_stopping_rounds=5)
    model.fit(x[:400], y[:400], eval_set=[(x[400:], y[400:])], verbose=False)
    result = prune("xgboost", model, x, 1.0)
    assert result.total == model.best_iteration + 1
    np.testing.assert_array_equal(result.model.predict(x), model.predict(x))


def test_an_xgboost_random_forest_is_refused() -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = _data()
    forest = xgb.XGBRFClassifier(n_estimators=20).fit(x, y)
    with pytest.raises(UnsupportedModel, match="single boosting round") as info:
        prune("xgboost", forest, x, 0.99)
    assert "--distill" in (info.value.hint or "")


def test_lightgbm_keeps_its_classes_and_writes_a_smaller_file(tmp_path: Path) -> None:
    lgb = pytest.importorskip("lightgbm")
    x, y = _data()
    labels = np.where(y == 1, "yes", "no")
    model = lgb.LGBMClassifier(n_estimators=150, verbose=-1).fit(x, labels)
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    flavor = get_flavor("lightgbm")
    loaded = flavor.load(full_dir, flavor.save(model, full_dir), trusted=True)
    assert isinstance(loaded, LightGBMPredictor)
    result = prune("lightgbm", loaded, x, 0.98)
    assert result.kept < result.total == 150 and result.agreement >= 0.98
    pruned = result.model
    assert isinstance(pruned, LightGBMPredictor) and pruned.booster.num_trees() == result.kept
    assert float(np.mean(pruned.predict(x) == loaded.predict(x))) == pytest.approx(result.agreement)
    pruned_dir = tmp_path / "pruned"
    pruned_dir.mkdir()
    options = flavor.save(pruned, pruned_dir)
    assert options["classes"] == ["no", "yes"] and options["wrapper"] == "LGBMClassifier"
    assert _saved_bytes("lightgbm", pruned, tmp_path / "again") < sum(
        p.stat().st_size for p in full_dir.iterdir()
    )
    again = flavor.load(pruned_dir, options, trusted=True)
    np.testing.assert_array_equal(again.predict(x), pruned.predict(x))


def test_lightgbm_regressor_and_wrapper() -> None:
    lgb = pytest.importorskip("lightgbm")
    x, _ = _data()
    target = x[:, 0] * 3 + x[:, 1]
    model = lgb.LGBMRegressor(n_estimators=100, verbose=-1).fit(x, target)
    result = prune("lightgbm", model, x, 0.9)
    full, pruned = model.predict(x), result.model.predict(x)
    assert 1 - np.mean(np.abs(full - pruned)) / np.std(full) == pytest.approx(result.agreement)
    assert result.model.booster_.num_trees() == result.kept < 100
    assert model.booster_.num_trees() == 100


def test_a_pipeline_ending_in_xgboost_is_cut_in_its_last_step() -> None:
    xgb = pytest.importorskip("xgboost")
    from sklearn.preprocessing import StandardScaler

    x, y = _data()
    model = Pipeline([("scale", StandardScaler()), ("xgb", xgb.XGBClassifier(n_estimators=80))])
    model.fit(x, y)
    result = prune("sklearn", model, x, 0.98)
    assert result.kept < 80 and result.model.steps[0][1] is model.steps[0][1]
    assert result.model.steps[-1][1].get_booster().num_boosted_rounds() == result.kept
    assert model.steps[-1][1].get_booster().num_boosted_rounds() == 80
    agreement = float(np.mean(result.model.predict(x) == model.predict(x)))
    assert agreement == pytest.approx(result.agreement) and agreement >= 0.98
