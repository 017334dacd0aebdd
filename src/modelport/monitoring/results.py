"""What a monitor run found, per version, and its stable JSON form.

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
                               "latency_p50": 1.9, "latency_p95": 3.5}],
        "feedback_check": null | {"status": "ok" | "suspicious" | "no_data", "reason": "...",
                                  "suspicious_sources": [...], ...}}]}
                                  # <LabelCheck.to_dict(), see modelport.monitoring.labels>

``drift`` is null (with a note) when the version was registered without a sample,
so it has no reference profile; ``performance`` is null when no feedback arrived;
``feedback_check`` is null for regressors.

:meth:`MonitorReport.observations` flattens each version for the alert rules of
:mod:`.alerts` (``drift.*``, ``performance.*``, ``traffic.count``, plus
``traffic.label_rate``, ``traffic.latency_ms.<p50|p90|p95|p99|mean|max>`` and ``feedback.*``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

import pandas as pd

from modelport.errors import VersionNotFound
from modelport.monitoring.alerts import feedback_observations
from modelport.monitoring.alerts import observations as flat_observations
from modelport.monitoring.labels import LabelCheck
from modelport.monitoring.numbers import iso_time, json_safe
from modelport.monitoring.profile import Profile
from modelport.monitoring.report import DriftReport


class Latency(TypedDict):
    """Milliseconds; every value None when no latency was logged."""

    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None


class Traffic(TypedDict):
    count: int
    first: str | None
    last: str | None
    labelled: int
    label_rate: float | None
    latency_ms: Latency
    deployments: dict[str, int]


class TrafficWindow(TypedDict):
    start: str | None
    count: int
    labelled: int
    latency_p50: float | None
    latency_p95: float | None


class DriftSummary(TypedDict):
    drift: bool
    effect: float | None
    psi: float | None


class DriftWindow(TypedDict):
    start: str | None
    count: int
    drift: bool
    drift_share: float
    drifted_features: list[str]
    features: dict[str, DriftSummary]
    predictions: DriftSummary | None


class Performance(TypedDict):
    labelled: int
    #: accuracy, precision, recall, f1, roc_auc, log_loss; or mae, rmse, r2 (None: not computable)
    metrics: dict[str, float | None]


#: ``{"start": ..., "count": ..., <metric>: value}`` per window
PerformanceWindow = dict[str, Any]


@dataclass(frozen=True)
class VersionMonitor:
    """What the log says about one version in the period."""

    name: str
    version: int
    aliases: list[str]
    task: str
    classes: list[Any] | None
    traffic: Traffic
    drift: DriftReport | None
    drift_over_time: list[DriftWindow]
    performance: Performance | None
    performance_over_time: list[PerformanceWindow]
    traffic_over_time: list[TrafficWindow]
    notes: list[str] = field(default_factory=list)
    #: the reference profile and the current inputs (for the HTML report; not in to_dict)
    profile: Profile | None = field(default=None, repr=False, compare=False)
    current: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    #: the feedback check of a classifier's labels (None for regressors)
    feedback_check: LabelCheck | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json_safe(
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
                "feedback_check": (
                    None if self.feedback_check is None else self.feedback_check.to_dict()
                ),
            }
        )
        return data

    def observations(self) -> dict[str, float]:
        """Flat ``{metric: value}`` for alert rules (see :mod:`.alerts`)."""
        drift = None if self.drift is None else self.drift.to_dict()
        metrics = self.performance["metrics"] if self.performance is not None else None
        values = flat_observations(drift, metrics, int(self.traffic["count"]))
        rate = self.traffic["label_rate"]
        if rate is not None:
            values["traffic.label_rate"] = float(rate)
        for key, value in self.traffic["latency_ms"].items():
            if isinstance(value, float) and math.isfinite(value):
                values[f"traffic.latency_ms.{key}"] = value
        if self.feedback_check is not None:
            values |= feedback_observations(self.feedback_check.to_dict())
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
            "window_seconds": json_safe(self.window_seconds),
            "since": iso_time(self.since),
            "until": iso_time(self.until),
            "generated_at": iso_time(self.generated_at),
            "drift": self.drift,
            "versions": [v.to_dict() for v in self.versions],
        }

    def observations(self) -> dict[int, dict[str, float]]:
        """Per version, the flat ``{metric: value}`` that alert rules are evaluated on."""
        return {v.version: v.observations() for v in self.versions}
