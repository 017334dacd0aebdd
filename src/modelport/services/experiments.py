"""A/B reports of a deployment's arms, from the prediction log and the feedback joined to it.

Each arm's rows are those the deployment routed to the arm's version (the log records the
deployment with every prediction). Classifiers are judged on accuracy (1 when the label
equals the prediction); regressors on absolute error, lower being better. The statistics
are :func:`modelport.deployments.experiment.experiment_report`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from modelport.deployments.experiment import ArmData, ExperimentReport, experiment_report
from modelport.errors import InvalidArgument
from modelport.monitoring.performance import coerce_labels
from modelport.predictions.reader import PredictionLogReader
from modelport.reference import parse
from modelport.registry import Registry


def deployment_experiment(
    registry: Registry,
    reader: PredictionLogReader,
    name: str,
    *,
    since: datetime | None = None,
    alpha: float = 0.05,
) -> ExperimentReport:
    """The report for deployment ``name``'s arms (the first arm is the control)."""
    spec = registry.deployments.get(name).spec
    if len(spec.arms) < 2:
        raise InvalidArgument(
            f"deployment {name!r} has one arm: there is nothing to compare",
            hint=f"add a candidate: modelport deploy set {name} --arm A=90 --arm B=10",
        )
    arms: list[ArmData] = []
    regression = False
    for arm in spec.arms:
        ref = parse(arm.ref)
        version = registry.get(ref)
        outputs = (version.signature or {}).get("outputs") or {}
        regression = regression or outputs.get("kind") == "value"
        rows = _rows(reader, ref.name, version.version, name, since)
        labelled = rows[rows["label"].notna()] if "label" in rows else rows.iloc[:0]
        latencies = (
            pd.to_numeric(rows["latency_ms"], errors="coerce").dropna().to_numpy(np.float64)
            if len(rows)
            else np.empty(0)
        )
        arms.append(
            ArmData(
                ref=f"{ref.name}:{version.version}",
                requests=len(rows),
                values=_values(labelled, regression, outputs.get("classes")),
                latencies_ms=latencies,
                # sticky assignment draws once per key: the split is tested on keys
                units=int(rows["key"].nunique()) if spec.sticky is not None and len(rows) else None,
            )
        )
    return experiment_report(
        arms,
        [arm.weight for arm in spec.arms],
        alpha=alpha,
        metric="absolute_error" if regression else "accuracy",
        higher_is_better=not regression,
    )


def _rows(
    reader: PredictionLogReader, model: str, version: int, deployment: str, since: datetime | None
) -> pd.DataFrame:
    frame = reader.predictions(model, version=version, since=since, with_feedback=True)
    if frame.empty or "deployment" not in frame:
        return frame.iloc[:0]
    return frame[frame["deployment"] == deployment]


def _values(labelled: pd.DataFrame, regression: bool, classes: list[Any] | None) -> np.ndarray:
    """Per labelled request: 1/0 for a correct class, or the absolute error."""
    if labelled.empty:
        return np.empty(0)
    # labels are stored as JSON text: read them back as the model's class values
    truth = coerce_labels(labelled["label"], None if regression else classes)
    if regression:
        errors = pd.to_numeric(truth, errors="coerce") - pd.to_numeric(
            labelled["prediction"], errors="coerce"
        )
        return np.asarray(np.abs(errors.to_numpy(dtype=np.float64)))
    correct = truth.to_numpy() == labelled["prediction"].to_numpy()
    return np.asarray(correct, dtype=np.float64)
