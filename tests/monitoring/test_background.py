"""The server's background monitor: gauges from a monitor pass, and alert rules acting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from modelport.monitoring.actions import AlertJournal
from modelport.monitoring.alerts import parse_rules
from modelport.monitoring.background import BackgroundMonitor, MonitorGauges
from modelport.services.alerting import AlertService
from tests.monitoring.test_monitor import BASE, HOURS, world  # noqa: F401  (module fixture)


def test_a_pass_exports_gauges_and_fires_rules_once(world: dict[str, Any]) -> None:  # noqa: F811
    registry = world["registry"]
    registry.set_alias("credit:1", "production")
    registry.set_alias("credit:2", "production")
    prom = CollectorRegistry()
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "income-drift",
                    "model": "credit",
                    "metric": "drift.annual_income.psi",
                    "above": 0.1,
                    "window": f"{HOURS + 1}h",  # the server's window: its report is reused
                    "actions": ["log", {"rollback": "production"}],
                }
            ]
        }
    )
    journal = AlertJournal(world["settings"].alert_journal_path())
    alerting = AlertService(registry, world["reader"], rules, journal)
    monitor = BackgroundMonitor(
        registry,
        world["reader"],
        ["credit", "absent-model"],
        MonitorGauges(prom),
        window=f"{HOURS + 1}h",
        alerting=alerting,
    )
    now = BASE + timedelta(hours=HOURS)
    reports = monitor.run_once(now=now)
    assert set(reports) == {"credit"}
    text = generate_latest(prom).decode()
    assert 'modelport_drift_detected{model="credit",version="2"} 1.0' in text
    assert 'modelport_drift_detected{model="credit",version="1"} 0.0' in text
    assert 'modelport_feature_psi{feature="annual_income",model="credit",version="2"}' in text
    assert 'modelport_performance{metric="accuracy",model="credit",version="1"}' in text
    # version 2's incomes drifted: the rule fired once and rolled production back to 1
    assert [r["rule"] for r in monitor.fired] == ["income-drift"]
    assert registry.get("credit@production").version == 1
    monitor.run_once(now=now + timedelta(minutes=5))  # within the cooldown: no second alert
    assert len(monitor.fired) == 1 and len(journal.entries()) == 1
