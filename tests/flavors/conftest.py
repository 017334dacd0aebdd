"""Small data sets shared by the flavor tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def xy() -> tuple[np.ndarray, np.ndarray]:
    """80 rows, 4 numeric features, a binary 0/1 target."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.3, size=80) > 0).astype(int)
    return x, y


@pytest.fixture(scope="session")
def xy_multiclass(xy: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The same features with three string classes."""
    x, _ = xy
    y = np.array(["low", "mid", "high"])[np.digitize(x[:, 0] + x[:, 2], [-0.5, 0.5])]
    return x, y


@pytest.fixture(scope="session")
def xy_regression(xy: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x, _ = xy
    return x, 2.0 * x[:, 0] - x[:, 3] + 0.1 * x[:, 1] ** 2


@pytest.fixture(scope="session")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    """A DataFrame with numeric columns and a string categorical column; binary target."""
    rng = np.random.default_rng(1)
    n = 120
    df = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.integers(18, 80, n).astype(float),
            "city": rng.choice(["paris", "oslo", "rome"], n),
        }
    )
    score = (df["income"] - 50) / 10 + (df["city"] == "oslo") * 1.5 - 0.5
    return df, (score + rng.normal(scale=0.3, size=n) > 0).astype(int).to_numpy()
