"""Live performance from ground truth: plain functions of labels, predictions, probabilities.

Classifiers: accuracy, precision, recall, F1 (binary for two classes, macro
otherwise), ROC AUC (one-vs-rest for several classes), log loss, and a
calibration table. Regressors: MAE, RMSE, R². Metrics that cannot be computed
on a window (one class only, too few rows) are None, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelport.monitoring.numbers import finite_or_none

# scikit-learn is imported inside the metric functions: the server imports this module,
# and a server of ONNX models must not load scikit-learn (~0.5 s, ~60 MB) to start.


def classification_metrics(
    y_true: Any, y_pred: Any, proba: Any | None = None, classes: list[Any] | None = None
) -> dict[str, float | None]:
    """Accuracy, precision, recall, F1, ROC AUC and log loss of one window."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    out: dict[str, float | None] = {"count": float(len(y_true))}
    if len(y_true) == 0:
        return out | dict.fromkeys(["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"])
    labels = list(classes) if classes is not None else sorted(set(y_true) | set(y_pred))
    binary = len(labels) == 2
    average = "binary" if binary else "macro"
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0, "labels": labels}
    if binary:
        kwargs = {"average": "binary", "zero_division": 0, "pos_label": labels[1]}
    out["accuracy"] = finite_or_none(skm.accuracy_score(y_true, y_pred))
    out["precision"] = finite_or_none(skm.precision_score(y_true, y_pred, **kwargs))
    out["recall"] = finite_or_none(skm.recall_score(y_true, y_pred, **kwargs))
    out["f1"] = finite_or_none(skm.f1_score(y_true, y_pred, **kwargs))
    out["roc_auc"] = out["log_loss"] = None
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        present = set(np.unique(y_true))
        if len(present) >= 2 and present <= set(labels):
            if binary:
                out["roc_auc"] = finite_or_none(skm.roc_auc_score(y_true == labels[1], proba[:, 1]))
            else:
                out["roc_auc"] = finite_or_none(
                    skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
                )
        if present <= set(labels):
            clipped = np.clip(proba, 1e-15, 1 - 1e-15)
            clipped = clipped / clipped.sum(axis=1, keepdims=True)
            out["log_loss"] = finite_or_none(skm.log_loss(y_true, clipped, labels=labels))
    return out


def logged_classification_metrics(
    y_true: Any, y_pred: Any, proba: pd.Series | None, classes: list[Any] | None
) -> tuple[dict[str, float | None], int]:
    """:func:`classification_metrics` where only some rows logged their probabilities.

    ``proba`` holds one array (or None) per row. Accuracy and the other label metrics
    use every row; ROC AUC and log loss use the rows that have probabilities of the
    right width. Also returns how many rows that is.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = classification_metrics(y_true, y_pred, None, classes)
    if proba is None or not classes:
        return out, 0
    rows = [
        (i, np.asarray(v, dtype=np.float64))
        for i, v in enumerate(proba.to_numpy())
        if np.ndim(v) == 1 and len(v) == len(classes)  # None, NaN and NA are not logged
    ]
    if not rows:
        return out, 0
    index = [i for i, _ in rows]
    scored = classification_metrics(
        y_true[index], y_pred[index], np.vstack([v for _, v in rows]), classes
    )
    out["roc_auc"], out["log_loss"] = scored["roc_auc"], scored["log_loss"]
    return out, len(rows)


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float | None]:
    """MAE, RMSE and R² of one window."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    out: dict[str, float | None] = {"count": float(len(y_true))}
    if len(y_true) == 0:
        return out | {"mae": None, "rmse": None, "r2": None}
    out["mae"] = finite_or_none(skm.mean_absolute_error(y_true, y_pred))
    out["rmse"] = finite_or_none(math.sqrt(skm.mean_squared_error(y_true, y_pred)))
    out["r2"] = finite_or_none(skm.r2_score(y_true, y_pred)) if len(y_true) >= 2 else None
    return out


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float
    mean_predicted: float
    observed_rate: float
    count: int


def calibration(y_true_positive: Any, proba_positive: Any, bins: int = 10) -> list[CalibrationBin]:
    """Reliability table: in each probability bin, predicted vs observed positive rate."""
    truth = np.asarray(y_true_positive, dtype=float)
    proba = np.asarray(proba_positive, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, proba, side="right") - 1, 0, bins - 1)
    table = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            table.append(
                CalibrationBin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    float(proba[mask].mean()),
                    float(truth[mask].mean()),
                    int(mask.sum()),
                )
            )
    return table


def coerce_labels(raw: pd.Series, classes: list[Any] | None) -> pd.Series:
    """Feedback labels arrive as JSON text; turn them into the model's class values."""
    import orjson

    def parse(value: Any) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, str):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return value
        return value

    parsed = raw.map(parse)
    if classes:
        lookup = {str(c): c for c in classes}
        parsed = parsed.map(lambda v: None if v is None else lookup.get(str(v), v))
    return parsed


def usable_labels(
    labels: pd.Series, task: str, classes: list[Any] | None
) -> tuple[pd.Series, list[str]]:
    """Labels the metrics can use (the rest None), and a note about the ones left out.

    Feedback is checked when it arrives, but a log can hold labels from before that
    check or written by other tools: one impossible label must not hide the good ones.
    """
    from modelport.predictions.feedback import check_label

    outputs: dict[str, Any] = (
        {"kind": "class", "classes": classes} if task == "classification" else {"kind": "value"}
    )

    def usable(value: Any) -> bool:
        return value is not None and check_label(value, outputs)[1] is None

    keep = labels.map(usable).astype(bool)
    dropped = labels[labels.notna() & ~keep]
    if dropped.empty:
        return labels, []
    examples = ", ".join(repr(v) for v in list(dict.fromkeys(map(str, dropped)))[:5])
    expected = f"one of {classes}" if task == "classification" and classes else "numbers"
    note = (
        f"{len(dropped):,} feedback label(s) are not values the model predicts ({examples}; "
        f"expected {expected}) and were left out of the performance"
    )
    return labels.where(keep, None), [note]


def performance_by_window(
    frame: pd.DataFrame,
    *,
    task: str,
    classes: list[Any] | None,
    window: str = "1h",
) -> pd.DataFrame:
    """Metrics per (window start, version) over rows that have a label.

    ``frame`` has columns ts, version, prediction, label (JSON text) and, for
    classifiers, proba (a list per row) when available.
    """
    if frame.empty or "label" not in frame:
        return pd.DataFrame()
    labels, _ = usable_labels(coerce_labels(frame["label"], classes), task, classes)
    labelled = frame.assign(label=labels)
    labelled = labelled[labelled["label"].notna()]
    # ints, not objects: sklearn types targets by dtype
    labelled = labelled.assign(label=labelled["label"].infer_objects())
    if labelled.empty:
        return pd.DataFrame()
    labelled = labelled.assign(window=labelled["ts"].dt.floor(pd.Timedelta(window)))
    rows = []
    for (start, version), group in labelled.groupby(["window", "version"], sort=True):
        if task == "classification":
            values, _ = logged_classification_metrics(
                group["label"].to_numpy(),
                group["prediction"].to_numpy(),
                group.get("proba"),
                classes,
            )
        else:
            values = regression_metrics(group["label"], group["prediction"])
        rows.append({"window": start, "version": int(str(version)), **values})
    return pd.DataFrame(rows)
