"""Importable toy models for the python flavor (saved by reference, not pickled)."""

from __future__ import annotations

from typing import Any

import numpy as np


def row_sum(batch: Any) -> np.ndarray:
    """A 'regressor': the sum of each row."""
    return np.asarray(batch, dtype=float).sum(axis=1)


def first_column(batch: Any) -> np.ndarray:
    """Used inside a FunctionTransformer: a type skops does not trust by default."""
    return np.asarray(batch)[:, :1]


class SignClassifier:
    """A callable classifier: describes itself with ``classes`` and ``predict_proba``."""

    classes = ("neg", "pos")

    def __call__(self, batch: Any) -> np.ndarray:
        return np.where(np.asarray(batch, dtype=float)[:, 0] > 0, "pos", "neg")

    def predict_proba(self, batch: Any) -> np.ndarray:
        p = 1 / (1 + np.exp(-np.asarray(batch, dtype=float)[:, 0]))
        return np.column_stack([1 - p, p])


SIGN = SignClassifier()
