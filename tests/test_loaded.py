"""Per model at load time: whether a frame-trained model is called on one array.

Taken only for a plain estimator (or a LightGBM booster without pandas categories, or a
Pipeline of known steps, replayed) trained on float64 columns, and only when it answers
exactly as on the frame on the kept training rows; every doubt keeps the frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelport
from modelport.flavors.sklearn import SklearnPredictor
from modelport.loaded import array_predictor, load_model, same_outputs
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.schema import infer_signature
from modelport.settings import Settings
from modelport.training_sample import write_sample
from tests.runtime.tabular_cases import gbm_frame, numeric_frame

TRAIN, LABELS = numeric_frame(800, seed=11)
TEST, _ = numeric_frame(50, seed=12)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(home=tmp_path_factory.mktemp("loaded") / "home", user="tester")
    lr = LogisticRegression(max_iter=500).fit(TRAIN, LABELS)
    modelport.register(lr, "frame-lr", sample=TRAIN, settings=settings)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(TRAIN, LABELS)
    modelport.register(forest, "frame-rf", sample=TRAIN, settings=settings)
    gbm = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(TRAIN, LABELS)
    modelport.register(gbm, "frame-gbm", sample=TRAIN, settings=settings)
    modelport.register(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(TRAIN, LABELS),
        "pipeline",
        sample=TRAIN,
        settings=settings,
    )
    with_ints = TRAIN.assign(x0=np.arange(len(TRAIN)) % 7)
    modelport.register(
        LogisticRegression(max_iter=500).fit(with_ints, LABELS),
        "ints",
        sample=with_ints,
        settings=settings,
    )
    cats, cat_labels = gbm_frame(600, seed=13)
    modelport.register(
        lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(cats, cat_labels),
        "gbm-categories",
        sample=cats,
        settings=settings,
    )
    opened = Registry(settings)
    register_model(opened, lr, "no-sample", sample=TRAIN, sample_rows=0)
    yield opened
    opened.close()


@pytest.mark.parametrize("name", ["frame-lr", "frame-rf", "frame-gbm", "pipeline"])
def test_a_plain_model_on_float_columns_is_called_on_one_array(registry: Any, name: str) -> None:
    model = load_model(registry, name)
    assert model.on_arrays is not None
    records = TEST.to_dict(orient="records")
    prepared = model.prepare(records)
    assert isinstance(prepared, np.ndarray) and prepared.shape == (50, 20)
    on_frame = model.predictor.predict_proba(TEST)  # the original, on its frame
    labels, proba = model.outputs(prepared, proba=True)
    assert proba is not None and np.array_equal(proba, on_frame)  # bit for bit
    assert labels.tolist() == model.predictor.predict(TEST).tolist()
    # a frame given to outputs (batch scoring's prepared input of old) still gets the original
    frame_labels, _ = model.outputs(TEST)
    assert frame_labels.tolist() == labels.tolist()


@pytest.mark.parametrize("name", ["ints", "gbm-categories", "no-sample"])
def test_other_dtypes_and_versions_without_kept_rows_keep_their_frame(
    registry: Any, name: str
) -> None:
    model = load_model(registry, name)
    assert model.on_arrays is None and model.on_mixed_arrays is None
    sample = TRAIN if name != "gbm-categories" else gbm_frame(5, seed=14)[0]
    if name == "ints":
        sample = TRAIN.assign(x0=np.arange(len(TRAIN)) % 7)
    assert isinstance(model.prepare(sample.head(5)), pd.DataFrame)


class _Disagreeing:
    """A real predictor whose array twin is another model: the proof must refuse it."""

    task = "classification"

    def __init__(self, model: LogisticRegression, other: LogisticRegression) -> None:
        self._own = SklearnPredictor(model)
        self._other = other
        self.classes = self._own.classes

    def predict(self, batch: Any) -> np.ndarray:
        return self._own.predict(batch)

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        return self._own.predict_proba(batch)

    def for_arrays(self, columns: list[str]) -> SklearnPredictor | None:
        twin = SklearnPredictor(self._other)
        return twin.for_arrays(columns)


def test_a_twin_that_answers_otherwise_on_the_kept_rows_is_refused(tmp_path: Path) -> None:
    signature = infer_signature(TRAIN)
    model = LogisticRegression(max_iter=500).fit(TRAIN, LABELS)
    other = LogisticRegression(C=0.01, max_iter=500).fit(TRAIN, LABELS)
    assert array_predictor(_Disagreeing(model, other), signature, tmp_path) is None  # no rows
    write_sample(TRAIN, tmp_path)
    assert array_predictor(_Disagreeing(model, other), signature, tmp_path) is None
    agreeing = array_predictor(_Disagreeing(model, model), signature, tmp_path)
    assert agreeing is not None


def test_same_outputs_compares_labels_and_probabilities_exactly() -> None:
    model = SklearnPredictor(LogisticRegression(max_iter=500).fit(TRAIN, LABELS))
    nudged = LogisticRegression(max_iter=500).fit(TRAIN, LABELS)
    nudged.intercept_ = nudged.intercept_ + 1e-12
    assert same_outputs(model, TEST, model, TEST)
    assert not same_outputs(model, TEST, SklearnPredictor(nudged), TEST)
