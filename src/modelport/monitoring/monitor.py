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
* **traffic**: counts, labelled share and latency percentiles, overall and per window.

Everything but the reading is a pure function of the rows. Windows are aligned on
the epoch (``1h`` windows start on the hour, UTC). ``since``/``until`` are
datetimes, ISO 8601 strings (naive means UTC) or durations back from now
(``24h``, ``7d``); the period is ``since <= ts < until``.

JSON (:meth:`MonitorReport.to_dict`); every float is finite or null, times are
ISO 8601 UTC strings::

    {"model": "credit-risk", "target": "credit-risk@production",
     "window": "1h", "window_seconds": 3600,
     "since": "2026-01-05T00:00:00+00:00" | null, "until": ... | null,   # as asked
     "generated_at": "...",
     "drift": true,                        # any version drifted
     "versions": [
       {"version": 2, "ref": "credit-risk:2", "aliases": ["production"],
        "task": "classification" | "regression", "classes": [0, 1] | null,
        "notes": ["..."],                   # what could not be computed, and why
        "traffic": {"count": 3000, "first": "...", "last": "...",
                    "labelled": 1500, "label_rate": 0.5,
                    "latency_ms": {"mean": 2.1, "p50": 1.9, "p90": 3.0, "p95": 3.5,
                                   "p99": 6.0, "max": 9.1},
                    "deployments": {"credit-prod": 3000}},     # "" when none
        "drift": null | {<DriftReport.to_dict(), see modelport.monitoring.drift>},
        "drift_over_time": [
          {"start": "...", "count": 1000, "drift": true, "drift_share": 0.27,
           "drifted_features": ["annual_income"],
           "features": {"annual_income": {"drift": true, "effect": 0.31, "psi": 0.52}},
           "predictions": null | {"drift": false, "effect": 0.01, "psi": 0.0}}],
        "performance": null | {"labelled": 1500,
                               "metrics": {"accuracy": 0.8, "precision": ..., "recall": ...,
                                           "f1": ..., "roc_auc": ..., "log_loss": ...}},
                                          # regression: mae, rmse, r2
        "performance_over_time": [{"start": "...", "count": 500, "accuracy": 0.8, ...}],
        "traffic_over_time": [{"start": "...", "count": 1000, "labelled": 500,
                               "latency_p50": 1.9, "latency_p95": 3.5}]}]}

``drift`` is null (with a note) when the version was registered without a sample,
so it has no reference profile; ``performance`` is null when no feedback arrived.

:meth:`MonitorReport.observations` flattens each version for the alert rules of
:mod:`.alerts` (``drift.*``, ``performance.*``, ``traffic.count``, plus
``traffic.label_rate`` and ``traffic.latency_ms.<p50|p90|p95|p99|mean|max>``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelport.errors import DataError, InvalidArgument, VersionNotFound
from modelport.monitoring.alerts import observations as flat_observations
from modelport.monitoring.drift import detect_drift
from modelport.monitoring.durations import parse_duration
from modelport.monitoring.performance import (
    coerce_labels,
    logged_classification_metrics,
    performance_by_window,
    regression_metrics,
    usable_labels,
)
from modelport.monitoring.profile import Profile
from modelport.monitoring.report import DriftConfig, DriftReport, FeatureDrift
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
        "label",
        "feedback_ts",
    }
)
#: a report covers at most this many windows per version
MAX_WINDOWS = 2000

# ASCII digits only: ``\d`` also matches other scripts' digits, which pandas then misreads.
_RELATIVE = re.compile(r"[0-9]+(\.[0-9]+)?\s*[a-zA-Z]+")


# -- arguments ----------------------------------------------------------------------------


def parse_window(window: str | timedelta) -> pd.Timedelta:
    """``"1h"``, ``"15min"``, ``"1d"`` (or a timedelta) as a Timedelta of at least a second."""
    try:
        return parse_duration(window)
    except ValueError as exc:
        raise InvalidArgument(
            f"window {exc}", hint="a window is a duration with a unit: 15min, 1h or 1d"
        ) from None


def parse_time(value: datetime | str | None, now: datetime | None = None) -> datetime | None:
    """A datetime (UTC) from a datetime, an ISO 8601 string, or a duration back from now."""
    if value is None:
        return None
    now = now or datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if not text.isascii():
        # pandas reads e.g. "\u0662h" (an Arabic-Indic two) as 02:00 on 1 January of year 1
        raise InvalidArgument(
            f"{value!r} is neither a date/time nor a duration",
            hint="write it in ASCII: an ISO date such as 2026-01-05, or a duration such as 24h",
        )
    if _RELATIVE.fullmatch(text):
        try:
            return now - pd.Timedelta(text).to_pytimedelta()
        except ValueError:
            pass
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidArgument(
            f"{value!r} is neither a date/time nor a duration",
            hint="write an ISO date such as 2026-01-05 or 2026-01-05T10:00, or a duration "
            "back from now such as 24h or 7d",
        )
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()


# -- JSON helpers -------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).tz_convert("UTC").isoformat()


def _clean(value: Any) -> Any:
    """JSON-safe: finite floats or None, plain ints, ISO strings for times."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, pd.Timestamp | datetime):
        return _iso(value)
    return value


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionMonitor:
    """What the log says about one version in the period."""

    name: str
    version: int
    aliases: list[str]
    task: str
    classes: list[Any] | None
    traffic: dict[str, Any]
    drift: DriftReport | None
    drift_over_time: list[dict[str, Any]]
    performance: dict[str, Any] | None
    performance_over_time: list[dict[str, Any]]
    traffic_over_time: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    #: the reference profile and the current inputs (for the HTML report; not in to_dict)
    profile: Profile | None = field(default=None, repr=False, compare=False)
    current: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "version": self.version,
                "ref": self.ref,
                "aliases": list(self.aliases),
                "task": self.task,
                "classes": None if self.classes is None else list(self.classes),
                "notes": list(self.notes),
                "traffic": self.traffic,
                "drift": None if self.drift is None else self.drift.to_dict(),
                "drift_over_time": self.drift_over_time,
                "performance": self.performance,
                "performance_over_time": self.performance_over_time,
                "traffic_over_time": self.traffic_over_time,
            }
        )

    def observations(self) -> dict[str, float]:
        """Flat ``{metric: value}`` for alert rules (see :mod:`.alerts`)."""
        drift = None if self.drift is None else self.drift.to_dict()
        metrics = (self.performance or {}).get("metrics")
        values = flat_observations(drift, metrics, int(self.traffic["count"]))
        if self.traffic.get("label_rate") is not None:
            values["traffic.label_rate"] = float(self.traffic["label_rate"])
        for key, value in (self.traffic.get("latency_ms") or {}).items():
            if value is not None and math.isfinite(value):
                values[f"traffic.latency_ms.{key}"] = float(value)
        return values


@dataclass(frozen=True)
class MonitorReport:
    """The result of :func:`run_monitor`; ``to_dict`` is the stable JSON form."""

    model: str
    target: str
    window: str
    window_seconds: float
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    versions: list[VersionMonitor]

    @property
    def drift(self) -> bool:
        return any(v.drift is not None and v.drift.drift for v in self.versions)

    def version(self, number: int) -> VersionMonitor:
        for entry in self.versions:
            if entry.version == number:
                return entry
        raise VersionNotFound(
            f"{self.model}:{number} is not in this report",
            hint=f"versions with traffic: {', '.join(str(v.version) for v in self.versions)}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "target": self.target,
            "window": self.window,
            "window_seconds": _clean(self.window_seconds),
            "since": _iso(self.since),
            "until": _iso(self.until),
            "generated_at": _iso(self.generated_at),
            "drift": self.drift,
            "versions": [v.to_dict() for v in self.versions],
        }

    def observations(self) -> dict[int, dict[str, float]]:
        """Per version, the flat ``{metric: value}`` that alert rules are evaluated on."""
        return {v.version: v.observations() for v in self.versions}


# -- computing ----------------------------------------------------------------------------


def _task(signature: Mapping[str, Any] | None, predictions: pd.Series) -> tuple[str, list | None]:
    outputs = (signature or {}).get("outputs") or {}
    kind = outputs.get("kind")
    if kind is None:
        kind = "value" if pd.api.types.is_float_dtype(predictions.dtype) else "class"
    classes = outputs.get("classes") if kind == "class" else None
    return ("classification" if kind == "class" else "regression"), classes


def _traffic(rows: pd.DataFrame, labelled: pd.Series) -> dict[str, Any]:
    latency = pd.to_numeric(rows["latency_ms"], errors="coerce").to_numpy(dtype=np.float64)
    latency = latency[np.isfinite(latency)]
    if len(latency):
        p50, p90, p95, p99 = np.percentile(latency, [50, 90, 95, 99])
        latency_stats: dict[str, Any] = {
            "mean": float(latency.mean()),
            "p50": float(p50),
            "p90": float(p90),
            "p95": float(p95),
            "p99": float(p99),
            "max": float(latency.max()),
        }
    else:
        latency_stats = dict.fromkeys(["mean", "p50", "p90", "p95", "p99", "max"])
    deployments = rows["deployment"].fillna("").astype(str).value_counts()
    n = len(rows)
    k = int(labelled.sum())
    return {
        "count": n,
        "first": _iso(rows["ts"].min()),
        "last": _iso(rows["ts"].max()),
        "labelled": k,
        "label_rate": k / n if n else None,
        "latency_ms": latency_stats,
        "deployments": {str(key): int(c) for key, c in deployments.items()},
    }


def _traffic_over_time(rows: pd.DataFrame, labelled: pd.Series) -> list[dict[str, Any]]:
    out = []
    for start, group in rows.groupby("window", sort=True):
        latency = pd.to_numeric(group["latency_ms"], errors="coerce").dropna()
        out.append(
            {
                "start": _iso(start),
                "count": len(group),
                "labelled": int(labelled.loc[group.index].sum()),
                "latency_p50": float(latency.quantile(0.5)) if len(latency) else None,
                "latency_p95": float(latency.quantile(0.95)) if len(latency) else None,
            }
        )
    return out


def _summary(entry: FeatureDrift) -> dict[str, Any]:
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
) -> list[dict[str, Any]]:
    out = []
    for start, group in rows.groupby("window", sort=True):
        report = _drift(profile, inputs.loc[group.index], group["prediction"], config)
        features = report.features
        out.append(
            {
                "start": _iso(start),
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
            f"{labelled:,} labelled predictions (they are logged when clients ask for them: "
            'V1 "parameters": {"probabilities": true}, V2 output "predict_proba")'
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
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[str]]:
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
    series = []
    for row in by_window.to_dict("records") if not by_window.empty else []:
        row.pop("version", None)
        start = row.pop("window")
        series.append({"start": _iso(start), **row, "count": int(row.get("count") or 0)})
    return {"labelled": count, "metrics": metrics}, series, notes


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
    return VersionMonitor(
        name=name,
        version=number,
        aliases=aliases,
        task=task,
        classes=classes,
        traffic=_traffic(rows, has_label),
        drift=drift,
        drift_over_time=over_time or [],
        performance=_clean(performance) if performance is not None else None,
        performance_over_time=_clean(performance_series),
        traffic_over_time=_traffic_over_time(rows, has_label),
        notes=notes,
        profile=profile,
        current=inputs,
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
) -> MonitorReport:
    """Monitor ``target`` over its prediction log.

    ``target`` is a model name (every version with traffic in the period, each
    against its own reference profile) or ``name:3`` / ``name@alias`` (that
    version). Unknown models, versions and aliases raise the registry's errors; a
    period without traffic raises DataError.
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
        _monitor_version(ref.name, int(number), rows, registry, step, window_text, config)
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


__all__ = ["MonitorReport", "VersionMonitor", "parse_time", "parse_window", "run_monitor"]
