"""Starting the background monitor inside the server (``--monitor-interval``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.registry import Registry
from modelport.runtime.config import ServeConfig
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ModelPool

if TYPE_CHECKING:
    from modelport.monitoring.background import BackgroundMonitor


def start_monitor(
    registry: Registry, config: ServeConfig, pool: ModelPool, metrics: Metrics, log_root: str
) -> BackgroundMonitor | None:
    """A running monitor of every served model, or None when it is turned off."""
    if config.monitor_interval <= 0:
        return None
    # SciPy, DuckDB and the statistics load only in servers that monitor
    from modelport.monitoring.background import BackgroundMonitor, MonitorGauges
    from modelport.predictions.reader import PredictionLogReader
    from modelport.services.alerting import AlertService

    settings = registry.settings
    reader = PredictionLogReader(log_root)
    alerting = (
        AlertService.from_settings(registry, settings, config.alert_rules, reader=reader)
        if config.alert_rules
        else None
    )
    return BackgroundMonitor(
        registry,
        reader,
        pool.router.models(),
        MonitorGauges(metrics.registry),
        interval=config.monitor_interval,
        window=config.monitor_window,
        alerting=alerting,
        lock_path=settings.monitor_lock_path(),
    ).start()
