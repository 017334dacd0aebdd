"""The alerting service: each rule judged on its own window, dedup across fronts and restarts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from modelport.monitoring.actions import AlertJournal
from modelport.monitoring.alerts import parse_rules
from modelport.monitoring.monitor import run_monitor
from modelport.services.alerting import AlertService
from tests.monitoring.test_monitor import BASE, HOURS, PER_HOUR, world  # noqa: F401

NOW = BASE + timedelta(hours=HOURS)  # the last logged hour is [NOW - 1h, NOW)


def _service(world: dict[str, Any], *rules: dict[str, Any]) -> AlertService:  # noqa: F811
    return AlertService(
        world["registry"],
        world["reader"],
        parse_rules({"rules": list(rules)}),
        AlertJournal(world["settings"].alert_journal_path()),
    )


def _quiet(name: str, window: str, below: float) -> dict[str, Any]:
    return {
        "name": name,
        "model": "credit",
        "metric": "traffic.count",
        "below": below,
        "window": window,
        "actions": ["log"],
    }


def test_each_rule_sees_the_traffic_of_its_own_window(world: dict[str, Any]) -> None:  # noqa: F811
    # per version: PER_HOUR rows in the last hour, HOURS * PER_HOUR over the whole log
    service = _service(
        world,
        _quiet("last-hour", "1h", below=PER_HOUR + 1),
        _quiet("whole-log", f"{HOURS + 1}h", below=PER_HOUR + 1),
    )
    fired = service.check("credit", now=NOW)
    # one alert per rule and model per cooldown: version 2 (also quiet) is deduplicated
    assert [(r["rule"], r["version"]) for r in fired] == [("last-hour", 1)]
    assert fired[0]["values"] == {"traffic.count": float(PER_HOUR)}


def test_no_traffic_in_a_rule_window_is_an_observation(world: dict[str, Any]) -> None:  # noqa: F811
    service = _service(world, _quiet("stopped", "1h", below=1))
    fired = service.check("credit", now=NOW + timedelta(hours=5))
    assert [(r["rule"], r["values"]) for r in fired] == [("stopped", {"traffic.count": 0.0})]


def test_a_given_report_is_what_every_rule_is_judged_on(world: dict[str, Any]) -> None:  # noqa: F811
    service = _service(world, _quiet("last-hour", "1h", below=PER_HOUR + 1))
    whole = run_monitor(world["registry"], world["reader"], "credit:1", since=BASE, now=NOW)
    assert service.check("credit", now=NOW, report=whole) == []  # 3 hours of traffic: no


def test_a_firing_is_journalled_once_per_cooldown_across_services(
    world: dict[str, Any],  # noqa: F811
) -> None:
    rule = {**_quiet("dedup", "1h", below=PER_HOUR + 1), "cooldown": "1h"}
    first = _service(world, rule).check("credit", target="credit:1", now=NOW)
    assert [r["rule"] for r in first] == ["dedup"]
    # a new service (another front end, or after a restart) reads the journal: no second alert
    again = _service(world, rule)
    assert again.check("credit", target="credit:1", now=NOW + timedelta(minutes=10)) == []
    later = again.check("credit", target="credit:1", now=NOW + timedelta(minutes=61))
    assert [r["rule"] for r in later] == ["dedup"]
