"""Starting the background monitor inside the server (``--monitor-interval``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.registry import Registry
from modelport.serving.config import ServeConfig
from modelport.serving.metrics import Metrics
from modelport.serving.models import ModelPool

if TYPE_CHECKING:
    from modelport.monitoring.background import BackgroundMonitor


def start_monitor(
    registry: Registry, config: ServeConfig, pool: ModelPool, metrics: Metrics, log_root: str
) -> BackgroundMonitor | None:
    """A running monitor of every served model, or None when it is turned off."""
    if config.monitor_interval <= 0:
        return None
    # SciPy, DuckDB and the statistics load only in servers that monitor
    from modelport.monitoring.actions import AlertJournal
    from modelport.monitoring.alerts import load_rules
    from modelport.monitoring.background import BackgroundMonitor, MonitorGauges
    from modelport.predictions.reader import PredictionLogReader

    home = registry.settings.resolved_home()
    rules = load_rules(config.alert_rules) if config.alert_rules else []
    return BackgroundMonitor(
        registry,
        PredictionLogReader(log_root),
        pool.router.models(),
        MonitorGauges(metrics.registry),
        interval=config.monitor_interval,
        window=config.monitor_window,
        rules=rules,
        journal=AlertJournal(home / "alerts.jsonl"),
        lock_path=home / "monitor.lock",
    ).start()
