"""The scoring core on chunks: non-finite model outputs become rejected rows, not nulls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge

import modelport
from modelport.batch.scoring import REASON, Scorer
from modelport.loaded import load_model
from modelport.registry import Registry
from modelport.settings import Settings


def _loaded(tmp_path: Path, model: object, name: str, sample: pd.DataFrame) -> object:
    settings = Settings(home=tmp_path / "home")
    modelport.register(model, name, sample=sample, settings=settings)
    return load_model(Registry(settings), name)


def test_rows_whose_prediction_overflows_are_rejected_with_the_reason(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    model = Ridge().fit(train, train["a"] * 2 + 1)
    scorer = Scorer(_loaded(tmp_path, model, "ridge", train), ["a", "b", "c"], ["id"])  # type: ignore[arg-type]
    chunk = train.head(4).assign(id=[10, 11, 12, 13])
    chunk.loc[1, ["a", "b", "c"]] = [1e308, 1e308, 1e308]  # each finite; the sum overflows
    result = scorer.score(chunk)
    assert result.scored["id"].tolist() == [10, 12, 13]
    expected = model.predict(chunk.drop(index=1)[["a", "b", "c"]])
    assert np.allclose(result.scored["prediction"], expected)
    assert result.rejected["id"].tolist() == [11]
    assert "not finite" in result.rejected[REASON].iloc[0]


def test_argmax_classifiers_score_with_one_call_exactly_as_predict(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    train = pd.DataFrame(rng.normal(size=(200, 2)), columns=["x", "y"])
    labels = np.where(train["x"] + train["y"] > 0, "yes", "no")
    model = LogisticRegression().fit(train, labels)
    scorer = Scorer(_loaded(tmp_path, model, "lr", train), ["x", "y"], [])  # type: ignore[arg-type]
    result = scorer.score(train)
    assert result.scored["prediction"].tolist() == model.predict(train).tolist()
    assert np.allclose(result.scored[["proba_no", "proba_yes"]], model.predict_proba(train))
