"""Distillation: a small student of a large ensemble, with fidelity measured on held-out rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelport
from modelport.errors import InvalidArgument, OptimizationError, UnsupportedModel
from modelport.flavors.base import Predictor
from modelport.flavors.sklearn import SklearnPredictor
from modelport.loaded import LoadedModel, load_model
from modelport.monitoring.profile import build_profile
from modelport.optimization.distillation import DistillResult, distill
from modelport.registry import Registry
from modelport.schema import Signature, infer_signature, validate
from modelport.training_sample import read_sample


def credit(rows: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Mixed features; labels and a score that depend on all three (plus noise)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 15, rows),
            "age": rng.integers(18, 80, rows),
            "home": rng.choice(["rent", "own", "mortgage"], rows),
        }
    )
    score = (frame.income - 50) / 15 + (frame.home == "own") - (frame.age - 50) / 30
    noisy = score + rng.normal(size=rows) * 0.3
    return frame, np.where(noisy > 0, "good", "bad"), noisy.to_numpy()


def numbers(rows: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    frame["c"] = rng.uniform(0, 5, rows)
    return frame, (frame.a + 0.5 * frame.b > 0).astype(int).to_numpy()


def stored(registry: Registry, model: Any, name: str, frame: pd.DataFrame) -> LoadedModel:
    """Register ``model`` with ``frame`` as its sample and load it back, as optimize does."""
    version = modelport.register(model, name, sample=frame, registry=registry)
    return load_model(registry, f"{version.name}:{version.version}")


def distilled(loaded: LoadedModel, registry: Registry, target: float) -> DistillResult:
    version = loaded.version
    sample = read_sample(registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256))
    assert sample is not None and loaded.signature is not None
    return distill(loaded.predictor, loaded.signature, sample, version.profile, target)


def held_out(
    loaded: LoadedModel, registry: Registry, result: DistillResult
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher and student predictions on the rows the result says it held out."""
    version = loaded.version
    sample = read_sample(registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256))
    assert sample is not None and loaded.signature is not None
    rows = validate(loaded.signature, sample.iloc[result.held_out].reset_index(drop=True))
    return np.asarray(loaded.predictor.predict(rows)), np.asarray(result.model.predict(rows))


def test_a_forest_gets_a_small_student_whose_fidelity_is_recomputed(registry: Registry) -> None:
    frame, labels = numbers()
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=0)
    loaded = stored(registry, forest.fit(frame, labels), "forest", frame)
    result = distilled(loaded, registry, 0.95)
    assert isinstance(result.model, GradientBoostingClassifier)
    assert result.targets == "probabilities"
    assert result.fidelity >= 0.95
    teacher, student = held_out(loaded, registry, result)
    assert result.fidelity == pytest.approx(float(np.mean(teacher == student)))
    # held out means not trained on: a quarter of the stored sample, apart from the rest
    rows = result.rows
    assert rows.held_out == len(result.held_out) == 500 and rows.sample + rows.picking == 1500
    assert rows.synthetic > 0
    assert result.student_size.nodes < result.teacher_size.nodes
    assert result.teacher_size.trees == 100
    assert result.tried[-1]["stages"] == result.student_size.trees  # binary: a tree a stage


def test_a_pipeline_keeps_its_preprocessing_and_the_student_registers(
    registry: Registry,
) -> None:
    frame, labels, _ = credit()
    encode = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["income", "age"]),
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["home"]),
        ]
    )
    teacher = Pipeline(
        [("prep", encode), ("forest", RandomForestClassifier(n_estimators=60, random_state=0))]
    ).fit(frame, labels)
    loaded = stored(registry, teacher, "credit", frame)
    result = distilled(loaded, registry, 0.9)
    student = result.model
    assert student.steps[0][0] == "prep"
    assert isinstance(student.steps[-1][1], GradientBoostingClassifier)
    prep = student.steps[0][1]
    np.testing.assert_array_equal(prep.transform(frame), teacher.steps[0][1].transform(frame))
    assert list(student.classes_) == ["bad", "good"]
    teacher_held, student_held = held_out(loaded, registry, result)
    assert result.fidelity == pytest.approx(float(np.mean(teacher_held == student_held)))
    # registered like any model, it predicts what the student predicts
    version = modelport.register(student, "student", sample=frame, registry=registry)
    served = modelport.load(f"student:{version.version}", registry=registry)
    records = frame.head(50).to_dict("records")
    assert list(served.predict(records)) == list(student.predict(frame.head(50)))


def test_xgboost_and_lightgbm_teachers(registry: Registry) -> None:
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    frame, labels = numbers()
    named = np.where(labels == 1, "yes", "no")
    teacher = lgb.LGBMClassifier(n_estimators=200, verbose=-1).fit(frame, named)
    loaded = stored(registry, teacher, "lgbm", frame)
    result = distilled(loaded, registry, 0.95)
    assert list(result.model.classes_) == ["no", "yes"] and result.fidelity >= 0.95
    teacher_held, student_held = held_out(loaded, registry, result)
    assert result.fidelity == pytest.approx(float(np.mean(teacher_held == student_held)))

    target = frame.a * 3 + np.sin(frame.b * 2) + frame.c
    regressor = xgb.XGBRegressor(n_estimators=300, max_depth=6).fit(frame, target)
    loaded = stored(registry, regressor, "xgbr", frame)
    result = distilled(loaded, registry, 0.95)
    assert isinstance(result.model, GradientBoostingRegressor) and result.targets == "values"
    teacher_held, student_held = held_out(loaded, registry, result)
    r2 = 1 - np.sum((teacher_held - student_held) ** 2) / np.sum(
        (teacher_held - teacher_held.mean()) ** 2
    )
    assert result.fidelity == pytest.approx(r2) and result.fidelity >= 0.95
    spread = 1 - np.mean(np.abs(teacher_held - student_held)) / np.std(teacher_held)
    assert result.agreement == pytest.approx(spread)


def test_a_bare_teacher_on_categories_gets_an_encoder(registry: Registry) -> None:
    lgb = pytest.importorskip("lightgbm")
    frame, labels, _ = credit()
    frame = frame.astype({"home": "category"})
    teacher = lgb.LGBMClassifier(n_estimators=150, verbose=-1).fit(frame, labels)
    loaded = stored(registry, teacher, "lgbm-cat", frame)
    result = distilled(loaded, registry, 0.9)
    assert result.model.steps[0][0] == "encode"
    teacher_held, student_held = held_out(loaded, registry, result)
    assert result.fidelity == pytest.approx(float(np.mean(teacher_held == student_held)))


def test_the_same_inputs_give_the_same_student() -> None:
    frame, labels = numbers(rows=600)
    teacher = RandomForestClassifier(n_estimators=50, random_state=0).fit(frame, labels)
    predictor, signature = _loaded(teacher, frame)
    profile = build_profile(frame).to_dict()
    first = distill(predictor, signature, frame, profile, 0.99)
    second = distill(predictor, signature, frame, profile, 0.99)
    assert first.fidelity == second.fidelity and first.student == second.student
    np.testing.assert_array_equal(
        first.model.predict_proba(frame), second.model.predict_proba(frame)
    )
    # no profile: the stored sample alone, and the result says so
    alone = distill(predictor, signature, frame, None, 0.9)
    assert alone.rows.synthetic == 0 and alone.note is not None


def test_an_impossible_target_returns_the_best_student_below_it() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(800, 4)), columns=list("abcd"))
    labels = rng.integers(0, 2, 800)  # noise: a deep forest memorises it, no student can
    teacher = RandomForestClassifier(n_estimators=100, random_state=0).fit(frame, labels)
    predictor, signature = _loaded(teacher, frame)
    result = distill(predictor, signature, frame, build_profile(frame).to_dict(), 1.0)
    assert result.fidelity < 1.0 and len(result.tried) > 1


def test_what_cannot_be_distilled_says_so() -> None:
    frame, labels = numbers(rows=300)
    linear = LogisticRegression().fit(frame, labels)
    predictor, signature = _loaded(linear, frame)
    with pytest.raises(UnsupportedModel, match="LogisticRegression") as info:
        distill(predictor, signature, frame, None, 0.9)
    assert "forest" in (info.value.hint or "")
    tiny = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(frame, labels)
    predictor, signature = _loaded(tiny, frame)
    with pytest.raises(UnsupportedModel, match="not make it smaller"):
        distill(predictor, signature, frame, None, 0.9)
    with pytest.raises(InvalidArgument, match="not a share"):
        distill(predictor, signature, frame, None, 1.5)
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(frame, labels)
    predictor, signature = _loaded(forest, frame)
    with pytest.raises(OptimizationError, match="too few"):
        distill(predictor, signature, frame.head(20), None, 0.9)


def test_a_regression_forest_learns_values() -> None:
    frame, _ = numbers(rows=1000)
    target = frame.a * 2 + frame.c
    forest = RandomForestRegressor(n_estimators=60, random_state=0).fit(frame, target)
    predictor, signature = _loaded(forest, frame)
    result = distill(predictor, signature, frame, build_profile(frame).to_dict(), 0.9)
    assert result.targets == "values" and result.fidelity >= 0.9
    assert result.to_dict()["measure"] == "R² against the teacher"


def _loaded(model: Any, frame: pd.DataFrame) -> tuple[Predictor, Signature]:
    """The model as the sklearn flavor wraps it, and the signature of its frame."""
    return SklearnPredictor(model), infer_signature(frame)
