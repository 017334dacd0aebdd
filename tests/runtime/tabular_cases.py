"""The models people deploy, as small real fixtures: array-trained and DataFrame-trained
LogisticRegression, a Pipeline with categoricals, LightGBM on a DataFrame.

Each case carries its requests: valid ones in the shape a V1 client sends (rows for the
array model, records for the others) and invalid ones with the field their error must name.
Shared by tests/runtime (through a real batcher in process) and tests/serving (a real server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelport
from modelport.settings import Settings

NUMERIC = [f"x{i}" for i in range(20)]
PIPE_NUMERIC = [f"n{i}" for i in range(16)]
PIPE_CATEGORICAL = ["colour", "size", "region", "channel"]
LEVELS = {
    "colour": ["red", "green", "blue"],
    "size": ["s", "m", "l", "xl"],
    "region": ["north", "south", "east", "west", "centre"],
    "channel": ["web", "store"],
}
GBM_NUMERIC = [f"g{i}" for i in range(18)]
GBM_CATEGORICAL = ["segment", "tier"]
GBM_LEVELS = {"segment": ["a", "b", "c"], "tier": ["gold", "silver", "bronze", "none"]}


@dataclass(frozen=True)
class Invalid:
    """A request the signature refuses, and the field (and kind) its error must name."""

    data: Any
    field: str
    kind: str


@dataclass
class Case:
    name: str
    #: valid requests (1 to 3 rows each), as a V1 client sends them
    valid: list[Any]
    invalid: list[Invalid] = field(default_factory=list)


def numeric_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, len(NUMERIC)))
    y = (values[:, :5].sum(axis=1) + rng.normal(0, 1, n) > 0).astype(int)
    return pd.DataFrame(values, columns=NUMERIC), y


def pipeline_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(PIPE_NUMERIC))), columns=PIPE_NUMERIC)
    for name in PIPE_CATEGORICAL:
        frame[name] = rng.choice(LEVELS[name], n)
    score = frame["n0"] + frame["n1"] + (frame["colour"] == "red") - (frame["region"] == "west")
    return frame, (score + rng.normal(0, 1, n) > 0.3).astype(int).to_numpy()


def gbm_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(GBM_NUMERIC))), columns=GBM_NUMERIC)
    for name in GBM_CATEGORICAL:
        frame[name] = pd.Categorical(rng.choice(GBM_LEVELS[name], n), categories=GBM_LEVELS[name])
    score = frame["g0"] - frame["g1"] + (frame["segment"] == "a").astype(float)
    return frame, (score + rng.normal(0, 1, n) > 0).astype(int).to_numpy()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a JSON client sends them: plain floats and strings."""
    out: list[dict[str, Any]] = []
    for row in frame.astype(object).to_dict(orient="records"):
        out.append({str(k): (v if isinstance(v, str) else float(v)) for k, v in row.items()})
    return out


def requests_of(rows: list[Any], seed: int) -> list[Any]:
    """Split ``rows`` into requests of 1 to 3 rows."""
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    i = 0
    while i < len(rows):
        k = int(rng.integers(1, 4))
        out.append(rows[i : i + k])
        i += k
    return out


def register_cases(settings: Settings, *, rows: int = 240) -> dict[str, Case]:
    """Train and register the four models; their requests drawn from held-out rows."""
    import lightgbm

    cases: dict[str, Case] = {}

    train, y = numeric_frame(1500, seed=1)
    test, _ = numeric_frame(rows, seed=2)
    array_lr = LogisticRegression(max_iter=500).fit(train.to_numpy(), y)
    modelport.register(array_lr, "array-lr", sample=train.to_numpy(), settings=settings)
    valid = requests_of(test.to_numpy().tolist(), seed=3)
    bad_row = test.to_numpy()[0].tolist()
    bad_row[3] = "high"
    cases["array-lr"] = Case(
        "array-lr",
        valid,
        [Invalid([bad_row], "f3", "type"), Invalid([[1.0, 2.0]], "*", "shape")],
    )

    frame_lr = LogisticRegression(max_iter=500).fit(train, y)
    modelport.register(frame_lr, "frame-lr", sample=train, settings=settings)
    recs = records(test)
    wrong_type = {**recs[0], "x3": "high"}
    missing = {k: v for k, v in recs[1].items() if k != "x7"}
    cases["frame-lr"] = Case(
        "frame-lr",
        requests_of(recs, seed=4),
        [Invalid([wrong_type], "x3", "type"), Invalid([recs[2], missing], "x7", "missing")],
    )

    train, y = pipeline_frame(1500, seed=5)
    test, _ = pipeline_frame(rows, seed=6)
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), PIPE_NUMERIC),
                ("cat", OneHotEncoder(), PIPE_CATEGORICAL),  # strict: unknowns refused
            ]
        ),
        LogisticRegression(max_iter=500),
    ).fit(train, y)
    modelport.register(pipeline, "pipeline", sample=train, settings=settings)
    recs = records(test)
    cases["pipeline"] = Case(
        "pipeline",
        requests_of(recs, seed=7),
        [
            Invalid([{**recs[0], "region": "mars"}], "region", "category"),
            Invalid([recs[1], {**recs[2], "n2": True}], "n2", "type"),
        ],
    )

    train, y = gbm_frame(1500, seed=8)
    test, _ = gbm_frame(rows, seed=9)
    gbm = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1).fit(train, y)
    modelport.register(gbm, "lightgbm", sample=train, settings=settings)
    recs = records(test)
    cases["lightgbm"] = Case(
        "lightgbm",
        requests_of(recs, seed=10),
        [
            Invalid([{**recs[0], "tier": "platinum"}], "tier", "category"),
            Invalid([{**recs[1], "g5": None}], "g5", "null"),
        ],
    )
    return cases
