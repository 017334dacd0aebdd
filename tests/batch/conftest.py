"""Fixtures for batch scoring: one small registered classifier and input files that use it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelport
from modelport.loaded import LoadedModel
from modelport.settings import Settings

FEATURES = ["income", "years", "color"]


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """An id, two numbers (one whole) and a category, plus a column the model ignores."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64) + 1000,
            "income": rng.normal(50, 10, n).round(3),
            "years": rng.integers(0, 30, n).astype(np.int64),
            "color": rng.choice(["red", "green", "blue"], n),
            "note": [f"n{i}" for i in range(n)],
        }
    )


@pytest.fixture(scope="session")
def batch_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A registry holding ``clf`` (a pipeline that one-hot encodes ``color``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    settings = Settings(home=tmp_path_factory.mktemp("batch") / "home", user="tester")
    train = make_frame(400, seed=0)
    target = ((train["income"] > 50) ^ (train["color"] == "red")).astype(int)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("color", OneHotEncoder(), ["color"])],
                    remainder="passthrough",
                ),
            ),
            ("forest", RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)),
        ]
    )
    model.fit(train[FEATURES], target)
    modelport.register(model, "clf", sample=train[FEATURES], settings=settings)
    return settings


@pytest.fixture(scope="session")
def loaded(batch_settings: Settings) -> LoadedModel:
    return modelport.load("clf", settings=batch_settings)


def expected(model: LoadedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """What a batch job must write for valid ``frame``: id, prediction, probabilities."""
    proba = model.predict_proba(frame[FEATURES])
    out = pd.DataFrame({"id": frame["id"].to_numpy()})
    out["prediction"] = model.predict(frame[FEATURES])
    for i, label in enumerate(model.classes or []):
        out[f"proba_{label}"] = proba[:, i]
    return out


def write(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as Parquet (small row groups, so there are several parts), CSV or JSON Lines."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False, row_group_size=100)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet" or path.is_dir():
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_json(path, lines=True)
