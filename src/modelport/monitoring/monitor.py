"""The monitoring service: drift, live performance and traffic of a model, from its prediction log.

:func:`run_monitor` reads the prediction log (and the feedback joined to it) of one
model through :class:`~modelport.predictions.reader.PredictionLogReader` (DuckDB)
and, for every version found in the period (or for the one version named), computes:

* **drift** of the inputs and of the predictions against the version's stored
  reference profile (:func:`.drift.detect_drift`) over the whole period;
* **drift over time**: the same test per time window (drift share, and per feature
  the effect, PSI and verdict);
* **live performance** from ground-truth feedback, overall and per window
  (:mod:`.performance`; the task and classes come from the version's signature);
* **traffic**: counts, labelled share and latency percentiles, overall and per window;
* **the feedback check** of a classifier's labels over the whole period: label shift beyond
  what the predictions' drift explains, disagreement beyond the model's own probabilities, one
  sender against the others (:func:`.labels.check_labels`).

Everything but the reading is a pure function of the rows. Windows are aligned on
the epoch (``1h`` windows start on the hour, UTC). ``since``/``until`` are
datetimes, ISO 8601 strings (naive means UTC) or durations back from now
(``24h``, ``7d``); the period is ``since <= ts < until``.

With ``deployment``, only the requests that deployment routed count, so the report has one
entry per arm (the arms of a deployment are versions: each is judged against its own
reference, over the same period). The log records the deployment of every row (a shadow's
copies as ``NAME/shadow``, which are not an arm's answers and are left out). Arms of other
models are in those models' reports.

The result types and their JSON form are in :mod:`.results`.

Why one module of this size: it is the one computation of a monitoring run (windows,
drift over time, performance, traffic); results, numbers and periods are elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelport.errors import DataError, InvalidArgument, VersionNotFound
from modelport.monitoring.drift import detect_drift
from modelport.monitoring.durations import parse_time, parse_window
from modelport.monitoring.labels import LabelCheck, check_labels
from modelport.monitoring.numbers import iso_time, json_safe
from modelport.monitoring.outliers import LoggedShare, logged_share
from modelport.monitoring.performance import (
    coerce_labels,
    logged_classification_metrics,
    performance_by_window,
    regression_metrics,
    usable_labels,
)
from modelport.monitoring.profile import CategoricalProfile, Profile
from modelport.monitoring.report import DriftConfig, DriftReport, FeatureDrift
from modelport.monitoring.results import (
    DriftSummary,
    DriftWindow,
    Latency,
    MonitorReport,
    Performance,
    PerformanceWindow,
    Traffic,
    TrafficWindow,
    VersionMonitor,
)
from modelport.reference import Reference, parse

if TYPE_CHECKING:
    from modelport.predictions.reader import PredictionLogReader
    from modelport.registry import Registry

#: columns of the log that are not model inputs
LOG_COLUMNS = frozenset(
    {
        "prediction_id",
        "ts",
        "version",
        "deployment",
        "key",
        "latency_ms",
        "prediction",
        "proba",
        "ood_score",
        "ood_features",
        "label",
        "feedback_ts",
        "feedback_source",
    }
)
#: a report covers at most this many windows per version
MAX_WINDOWS = 2000


# -- computing ----------------------------------------------------------------------------


def _task(
    signature: Mapping[str, Any] | None, predictions: pd.Series
) -> tuple[str, list[Any] | None]:
    outputs = (signature or {}).get("outputs") or {}
    kind = outputs.get("kind")
    if kind is None:
        kind = "value" if pd.api.types.is_float_dtype(predictions.dtype) else "class"
    classes = outputs.get("classes") if kind == "class" else None
    return ("classification" if kind == "class" else "regression"), classes


def _traffic(rows: pd.DataFrame, labelled: pd.Series) -> Traffic:
    latency = pd.to_numeric(rows["latency_ms"], errors="coerce").to_numpy(dtype=np.float64)
    latency = latency[np.isfinite(latency)]
    if len(latency):
        p50, p90, p95, p99 = np.percentile(latency, [50, 90, 95, 99])
        latency_stats: Latency = {
            "mean": float(latency.mean()),
            "p50": float(p50),
            "p90": float(p90),
            "p95": float(p95),
            "p99": float(p99),
            "max": float(latency.max()),
        }
    else:
        latency_stats = {
            "mean": None,
            "p50": None,
            "p90": None,
            "p95": None,
            "p99": None,
            "max": None,
        }
    deployments = rows["deployment"].fillna("").astype(str).value_counts()
    n = len(rows)
    k = int(labelled.sum())
    return {
        "count": n,
        "first": iso_time(rows["ts"].min()),
        "last": iso_time(rows["ts"].max()),
        "labelled": k,
        "label_rate": k / n if n else None,
        "latency_ms": latency_stats,
        "deployments": {str(key): int(c) for key, c in deployments.items()},
    }


def _traffic_over_time(rows: pd.DataFrame, labelled: pd.Series) -> list[TrafficWindow]:
    out: list[TrafficWindow] = []
    for start, group in rows.groupby("window", sort=True):
        latency = pd.to_numeric(group["latency_ms"], errors="coerce").dropna()
        out.append(
            {
                "start": iso_time(start),
                "count": len(group),
                "labelled": int(labelled.loc[group.index].sum()),
                "latency_p50": float(latency.quantile(0.5)) if len(latency) else None,
                "latency_p95": float(latency.quantile(0.95)) if len(latency) else None,
            }
        )
    return out


def _summary(entry: FeatureDrift) -> DriftSummary:
    return {"drift": entry.drift, "effect": entry.effect, "psi": entry.psi}


def _drift(
    profile: Profile, inputs: pd.DataFrame, predictions: pd.Series, config: DriftConfig
) -> DriftReport:
    if profile.predictions is None:
        values = None
    elif profile.predictions.kind == "numeric" and predictions.dtype == object:
        values = pd.to_numeric(predictions, errors="coerce").to_numpy(dtype=np.float64)
    else:
        values = predictions.to_numpy()
    return detect_drift(profile, inputs, values, config)


def _drift_over_time(
    profile: Profile,
    inputs: pd.DataFrame,
    rows: pd.DataFrame,
    config: DriftConfig,
) -> list[DriftWindow]:
    out: list[DriftWindow] = []
    for start, group in rows.groupby("window", sort=True):
        report = _drift(profile, inputs.loc[group.index], group["prediction"], config)
        features = report.features
        out.append(
            {
                "start": iso_time(start),
                "count": len(group),
                "drift": report.drift,
                "drift_share": (len(report.drifted_features) / len(features)) if features else 0.0,
                "drifted_features": report.drifted_features,
                "features": {name: _summary(f) for name, f in features.items()},
                "predictions": None if report.predictions is None else _summary(report.predictions),
            }
        )
    return out


def _probability_notes(scored: int, labelled: int, has_proba: bool | None) -> list[str]:
    """Why ROC AUC and log loss are missing or cover fewer rows than the other metrics."""
    if scored == labelled:
        return []
    if has_proba is False:
        return ["ROC AUC and log loss need class probabilities; this model gives none"]
    if scored == 0:
        return [
            "ROC AUC and log loss need class probabilities; none were logged for the "
            f"{labelled:,} labelled predictions (the server logs them for every prediction of "
            "a classifier that has them; these rows came from an older server or another "
            "writer)"
        ]
    return [
        f"ROC AUC and log loss cover the {scored:,} of {labelled:,} labelled predictions "
        "that were logged with class probabilities"
    ]


def _performance(
    rows: pd.DataFrame,
    labels: pd.Series,
    task: str,
    classes: list[Any] | None,
    window: str,
    has_proba: bool | None = None,
) -> tuple[Performance | None, list[PerformanceWindow], list[str]]:
    notes: list[str] = []
    has = labels.notna()
    if not has.any():
        return (
            None,
            [],
            ["no feedback (ground truth) in this period: send it with `modelport feedback FILE`"],
        )
    labelled = rows[has]
    truth = labels[has].infer_objects()  # ints, not objects: sklearn types targets by dtype
    try:
        if task == "classification":
            metrics, scored = logged_classification_metrics(
                truth.to_numpy(),
                labelled["prediction"].to_numpy(),
                labelled.get("proba"),
                classes,
            )
            notes += _probability_notes(scored, len(labelled), has_proba)
        else:
            metrics = regression_metrics(
                pd.to_numeric(truth, errors="coerce"), labelled["prediction"]
            )
        keep = ["ts", "version", "prediction", "label"]
        if "proba" in rows and task == "classification" and classes:
            keep.append("proba")
        by_window = performance_by_window(rows[keep], task=task, classes=classes, window=window)
    except (ValueError, TypeError) as exc:
        return (
            None,
            [],
            [
                f"performance could not be computed: {exc}; the feedback labels must be "
                f"values the model predicts ({classes if classes else 'numbers'})"
            ],
        )
    count = int(metrics.pop("count") or 0)
    series: list[PerformanceWindow] = []
    for record in by_window.to_dict("records") if not by_window.empty else []:
        row = {str(key): value for key, value in record.items()}
        row.pop("version", None)
        start = row.pop("window")
        series.append({"start": iso_time(start), **row, "count": int(row.get("count") or 0)})
    return {"labelled": count, "metrics": metrics}, series, notes


def _ood_notes(share: LoggedShare) -> list[str]:
    """The out-of-distribution share of the window's rows, as a note (none if nothing scored)."""
    if share.share is None:
        return []
    named = ", ".join(f"{name} ({count})" for name, count in list(share.features.items())[:3])
    return [
        f"out of distribution: {share.above} of {share.scored} scored rows "
        f"({share.share:.1%}) above {share.threshold:g}"
        + (f"; features most often unlike training: {named}" if named else "")
    ]


def _feedback_check(
    rows: pd.DataFrame, labels: pd.Series, classes: list[Any] | None, profile: Profile | None
) -> LabelCheck:
    """The feedback check of the period's labelled rows against the version's reference."""
    has = labels.notna()
    labelled = rows[has]
    reference = profile.predictions if profile is not None else None
    return check_labels(
        labels[has].to_numpy(),
        labelled["prediction"].to_numpy(),
        classes or [],
        proba=labelled["proba"].to_numpy() if "proba" in labelled else None,
        prior=profile.labels.categories if profile is not None and profile.labels else None,
        reference_predictions=(
            reference.categories if isinstance(reference, CategoricalProfile) else None
        ),
        sources=(labelled["feedback_source"].to_numpy() if "feedback_source" in labelled else None),
    )


def _monitor_version(
    name: str,
    number: int,
    rows: pd.DataFrame,
    registry: Registry,
    window: pd.Timedelta,
    window_text: str,
    config: DriftConfig,
) -> VersionMonitor:
    notes: list[str] = []
    signature: Mapping[str, Any] | None = None
    profile: Profile | None = None
    aliases: list[str] = []
    try:
        record = registry.get(Reference(name, version=number))
    except VersionNotFound:
        notes.append(f"{name}:{number} is in the log but not in the registry: no reference")
    else:
        signature, aliases = record.signature, list(record.aliases)
        if record.profile:
            profile = Profile.from_dict(record.profile)
        else:
            notes.append(
                "no reference profile: the version was registered without a sample, so drift "
                "cannot be tested (register the next version with --sample)"
            )
    rows = rows.assign(window=rows["ts"].dt.floor(window))
    task, classes = _task(signature, rows["prediction"])
    labels = (
        coerce_labels(rows["label"], classes)
        if "label" in rows
        else pd.Series(None, index=rows.index, dtype=object)
    )
    labels, label_notes = usable_labels(labels, task, classes)
    notes += label_notes
    has_label = labels.notna()
    present = [
        c for c in rows.columns if c not in LOG_COLUMNS and c != "window" and rows[c].notna().any()
    ]
    if profile is not None:
        present += [c for c in profile.features if c not in present and c in rows.columns]
    inputs = rows[present]
    drift = over_time = None
    if profile is not None:
        drift = _drift(profile, inputs, rows["prediction"], config)
        over_time = _drift_over_time(profile, inputs, rows, config)
    has_proba = ((signature or {}).get("outputs") or {}).get("has_proba")
    performance, performance_series, perf_notes = _performance(
        rows, labels, task, classes, window_text, has_proba
    )
    notes += perf_notes
    if "ood_score" in rows:  # servers that score requests against the profile log this
        notes += _ood_notes(logged_share(rows["ood_score"], rows.get("ood_features")))
    feedback_check = (
        _feedback_check(rows, labels, classes, profile) if task == "classification" else None
    )
    return VersionMonitor(
        name=name,
        version=number,
        aliases=aliases,
        task=task,
        classes=classes,
        traffic=_traffic(rows, has_label),
        drift=drift,
        drift_over_time=over_time or [],
        performance=json_safe(performance) if performance is not None else None,
        performance_over_time=json_safe(performance_series),
        traffic_over_time=_traffic_over_time(rows, has_label),
        notes=notes,
        profile=profile,
        current=inputs,
        feedback_check=feedback_check,
    )


def _period(since: datetime | None, until: datetime | None) -> str:
    if since and until:
        return f"between {since.isoformat()} and {until.isoformat()}"
    if since:
        return f"since {since.isoformat()}"
    if until:
        return f"before {until.isoformat()}"
    return "at all"


def run_monitor(
    registry: Registry,
    reader: PredictionLogReader,
    target: str,
    *,
    window: str | timedelta = "1h",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    config: DriftConfig | None = None,
    now: datetime | None = None,
    deployment: str | None = None,
) -> MonitorReport:
    """Monitor ``target`` over its prediction log.

    ``target`` is a model name (every version with traffic in the period, each
    against its own reference profile) or ``name:3`` / ``name@alias`` (that
    version). ``deployment``: only the requests it routed, one entry per arm. Unknown
    models, versions, aliases and deployments raise the registry's errors; a period
    without traffic raises DataError.
    """
    now = now or datetime.now(UTC)
    step = parse_window(window)
    window_text = window if isinstance(window, str) else str(step)
    start, end = parse_time(since, now), parse_time(until, now)
    if start is not None and end is not None and start >= end:
        raise InvalidArgument(
            f"since ({start.isoformat()}) must be before until ({end.isoformat()})",
            hint="swap them, or drop one",
        )
    ref = parse(target)
    text = target.strip() if isinstance(target, str) else str(target)
    if "@" in text or ":" in text:
        only: int | None = registry.resolve(ref).version
    else:
        registry.list_versions(ref.name)  # ModelNotFound with the registered names
        only = None
    frame = reader.predictions(ref.name, version=only, since=start, until=end, with_feedback=True)
    what = ref.name if only is None else f"{ref.name}:{only}"
    if deployment is not None and not frame.empty:
        # not looked up in the registry: the log outlives a removed deployment
        routed = frame["deployment"] == deployment
        if not routed.any():
            seen = sorted({str(d) for d in frame["deployment"].dropna()})
            raise DataError(
                f"no predictions of {what} routed by deployment {deployment} were logged "
                f"{_period(start, end)}",
                hint="deployments in its log: " + (", ".join(seen) if seen else "none"),
            )
        frame = frame[routed].reset_index(drop=True)
    if frame.empty:
        raise DataError(
            f"no predictions of {what} were logged {_period(start, end)}",
            hint=f"predictions are logged under {reader.root}/predictions by `modelport serve`: "
            "send it some traffic, or widen --since/--until",
        )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    span = (frame["ts"].max().floor(step) - frame["ts"].min().floor(step)) / step + 1
    if span > MAX_WINDOWS:
        raise InvalidArgument(
            f"window {window_text!r} cuts the period into {int(span):,} windows "
            f"(at most {MAX_WINDOWS:,})",
            hint="use a longer --window, or a shorter --since/--until period",
        )
    config = config or DriftConfig()
    versions = [
        _monitor_version(ref.name, int(str(number)), rows, registry, step, window_text, config)
        for number, rows in frame.groupby("version", sort=True)
    ]
    return MonitorReport(
        model=ref.name,
        target=text,
        window=window_text,
        window_seconds=step.total_seconds(),
        since=start,
        until=end,
        generated_at=now,
        versions=versions,
    )


__all__ = ["run_monitor"]
