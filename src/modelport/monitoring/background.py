"""The server's background monitor: run the monitor on a schedule, export the results as
Prometheus gauges, and have the alerting service judge the rules (whose rollback action the
server then follows; each rule on the traffic of its own window).

It runs in a thread because a monitor pass reads Parquet and computes statistics: work
that must never sit on the event loop. With several server workers only one of them
monitors at a time (a lock file under MODELPORT_HOME), so alerts are not sent twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout
from prometheus_client import CollectorRegistry, Gauge

from modelport.errors import DataError, ModelportError
from modelport.monitoring.durations import parse_window
from modelport.monitoring.monitor import run_monitor
from modelport.monitoring.results import MonitorReport
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry

if TYPE_CHECKING:
    from modelport.services.alerting import AlertService

log = logging.getLogger("modelport.monitor")


class MonitorGauges:
    """What the last monitor pass found, as gauges on the server's /metrics.

    With several workers only the one holding the monitor lock sets them, so the
    aggregate shows the most recent value a live worker set (and the latest pass time).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.drift = Gauge(
            "modelport_drift_detected",
            "1 if the last monitor pass found drift in this version's traffic.",
            ["model", "version"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.share = Gauge(
            "modelport_drift_share",
            "Share of features that drifted in the last monitor window.",
            ["model", "version"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.effect = Gauge(
            "modelport_feature_drift_score",
            "Drift effect size per feature (KS statistic or Jensen-Shannon distance).",
            ["model", "version", "feature"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.psi = Gauge(
            "modelport_feature_psi",
            "Population stability index per feature against the reference profile.",
            ["model", "version", "feature"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.performance = Gauge(
            "modelport_performance",
            "Live performance from ground-truth feedback in the last monitor window.",
            ["model", "version", "metric"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.traffic = Gauge(
            "modelport_monitored_predictions",
            "Predictions in the last monitor window.",
            ["model", "version"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.last_run = Gauge(
            "modelport_monitor_last_run_timestamp_seconds",
            "When the background monitor last finished a pass.",
            registry=registry,
            multiprocess_mode="max",
        )

    def export(self, report: MonitorReport) -> None:
        """Set the gauges from the same flat observations the alert rules see."""
        for version in report.versions:
            labels = (report.model, str(version.version))
            values = version.observations()
            self.traffic.labels(*labels).set(values.get("traffic.count", 0.0))
            if "drift.detected" in values:
                self.drift.labels(*labels).set(values["drift.detected"])
                self.share.labels(*labels).set(values["drift.share"])
            for key, value in values.items():
                head, _, rest = key.partition(".")
                feature, _, field = rest.rpartition(".")
                if head == "drift" and field == "effect":
                    self.effect.labels(*labels, feature).set(value)
                elif head == "drift" and field == "psi":
                    self.psi.labels(*labels, feature).set(value)
                elif head == "performance" and rest != "count":
                    self.performance.labels(*labels, rest).set(value)


class BackgroundMonitor:
    """Monitors ``models`` every ``interval`` seconds over the last ``window``."""

    def __init__(
        self,
        registry: Registry,
        reader: PredictionLogReader,
        models: list[str],
        gauges: MonitorGauges,
        *,
        interval: float = 60.0,
        window: str = "1h",
        alerting: AlertService | None = None,
        lock_path: Path | None = None,
    ) -> None:
        self.registry = registry
        self.reader = reader
        self.models = models
        self.gauges = gauges
        self.interval = interval
        self.window = window
        self.alerting = alerting
        self.lock = FileLock(str(lock_path)) if lock_path else None
        self.fired: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: datetime | None = None) -> dict[str, MonitorReport]:
        """One pass over every model; returns the reports of models that had traffic."""
        now = now or datetime.now(UTC)
        span = parse_window(self.window).to_pytimedelta()
        reports: dict[str, MonitorReport] = {}
        for model in self.models:
            try:
                report = run_monitor(
                    self.registry, self.reader, model, window=self.window, since=now - span, now=now
                )
            except DataError:
                report = None  # no traffic in the window: no gauges; rules may still care
            except ModelportError as exc:
                log.warning("monitor of %s failed: %s", model, exc)
                continue
            if report is not None:
                reports[model] = report
                self.gauges.export(report)
            if self.alerting is not None:
                recent = {span: report} if report is not None else {}
                try:
                    self.fired += self.alerting.check(
                        model, now=now, recent=recent, window=self.window
                    )
                except ModelportError as exc:
                    log.warning("alert rules of %s could not be judged: %s", model, exc)
        self.gauges.last_run.set(now.timestamp())
        return reports

    def start(self) -> BackgroundMonitor:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.lock is not None:
                try:
                    self.lock.acquire(timeout=0)
                except Timeout:
                    continue  # another worker monitors this round
            try:
                self.run_once()
            except Exception:
                log.exception("background monitor pass failed")
            finally:
                if self.lock is not None:
                    self.lock.release()
