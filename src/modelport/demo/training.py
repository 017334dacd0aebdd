"""Two model versions trained on the demo data: a logistic regression and a gradient-boosted one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelport.demo.data import CATEGORICAL, FEATURES, NUMERIC


@dataclass
class Trained:
    model: Pipeline
    metrics: dict[str, float]


def _preprocess(scale: bool) -> ColumnTransformer:
    numeric = (
        make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        if scale
        else SimpleImputer(strategy="median")
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )


def _evaluate(model: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    proba = model.predict_proba(test[FEATURES])[:, 1]
    return {
        "auc": round(float(roc_auc_score(test["default"], proba)), 4),
        "accuracy": round(float(accuracy_score(test["default"], proba >= 0.5)), 4),
    }


def train_logistic(train: pd.DataFrame, test: pd.DataFrame) -> Trained:
    model = Pipeline([("prep", _preprocess(scale=True)), ("clf", LogisticRegression(max_iter=500))])
    model.fit(train[FEATURES], train["default"])
    return Trained(model, _evaluate(model, test))


def train_boosted(train: pd.DataFrame, test: pd.DataFrame) -> Trained:
    model = Pipeline(
        [
            ("prep", _preprocess(scale=False)),
            (
                "clf",
                HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, random_state=0),
            ),
        ]
    )
    model.fit(train[FEATURES], train["default"])
    return Trained(model, _evaluate(model, test))


def train_forest(train: pd.DataFrame, test: pd.DataFrame) -> Trained:
    """The bench/serving reference forest's shape (100 trees, depth 12), on the credit data."""
    model = Pipeline(
        [
            ("prep", _preprocess(scale=False)),
            ("clf", RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0)),
        ]
    )
    model.fit(train[FEATURES], train["default"])
    return Trained(model, _evaluate(model, test))


def split(
    frame: pd.DataFrame, test_fraction: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(len(frame) * (1 - test_fraction))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(
        drop=True
    )
