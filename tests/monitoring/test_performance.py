from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from modelport.monitoring.performance import (
    calibration,
    classification_metrics,
    coerce_labels,
    performance_by_window,
    regression_metrics,
)


def test_binary_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p1 = np.clip(y * 0.6 + rng.random(500) * 0.4, 0, 1)
    proba = np.column_stack([1 - p1, p1])
    pred = (p1 >= 0.5).astype(int)
    m = classification_metrics(y, pred, proba, classes=[0, 1])
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-6)


def test_degenerate_windows_give_none_not_errors() -> None:
    m = classification_metrics([1, 1], [1, 0], np.array([[0.2, 0.8], [0.6, 0.4]]), classes=[0, 1])
    assert m["roc_auc"] is None and m["accuracy"] == 0.5
    assert classification_metrics([], [], None)["accuracy"] is None
    assert regression_metrics([1.0], [2.0])["r2"] is None


def test_multiclass_and_string_labels() -> None:
    y = np.array(["a", "b", "c", "a", "b", "c"])
    pred = np.array(["a", "b", "b", "a", "c", "c"])
    proba = np.eye(3)[[0, 1, 1, 0, 2, 2]] * 0.8 + 0.2 / 3
    m = classification_metrics(y, pred, proba, classes=["a", "b", "c"])
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["roc_auc"] is not None


def test_regression_metrics_match_sklearn() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.1, 1.9, 3.3, 3.7])
    m = regression_metrics(y, p)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))


def test_calibration_of_a_calibrated_model_is_diagonal() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(100_000)
    y = rng.random(100_000) < p
    for b in calibration(y, p, bins=10):
        assert abs(b.mean_predicted - b.observed_rate) < 0.02


def test_labels_from_json_text_become_class_values() -> None:
    raw = pd.Series(["1", "0", None, '"yes"'])
    assert coerce_labels(raw, [0, 1]).tolist()[:3] == [1, 0, None]
    assert coerce_labels(pd.Series(['"yes"']), ["no", "yes"]).tolist() == ["yes"]


def test_performance_by_window_and_version() -> None:
    ts = pd.to_datetime(["2026-01-01 10:05", "2026-01-01 10:20", "2026-01-01 11:10"], utc=True)
    frame = pd.DataFrame(
        {
            "ts": ts,
            "version": [1, 1, 2],
            "prediction": [1, 0, 1],
            "label": ["1", "1", None],
            "proba": [[0.2, 0.8], [0.7, 0.3], [0.1, 0.9]],
        }
    )
    out = performance_by_window(frame, task="classification", classes=[0, 1], window="1h")
    assert len(out) == 1 and out.loc[0, "accuracy"] == 0.5 and out.loc[0, "version"] == 1
