"""Alert rules through ``modelport monitor --rules`` and the server's background monitor.

The same rules over the same logged traffic must fire the same alerts, with the same
values, from either front end, each rule judged on the traffic of its own window: the
server monitors a 1-hour window, yet a 2-hour rule sees two hours. The journal is the
dedup memory of both: what one front end fired, the other does not fire again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from prometheus_client import CollectorRegistry
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import modelport
from modelport.cli.monitor import attach
from modelport.monitoring.background import BackgroundMonitor, MonitorGauges
from modelport.predictions import LoggedBatch, PredictionLogWriter, new_prediction_ids
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.services.alerting import AlertService
from modelport.settings import Settings

cli = typer.Typer()
attach(cli)
PER_BATCH = 100
#: minutes before now of each logged batch: one per hour, each well inside its hour
BATCHES = (150, 90, 30)

RULES = """\
rules:
  # 100 rows in the last hour, 200 in two, 300 in three
  - {name: hour-busy, model: m, metric: traffic.count, above: 150, window: 1h}
  - {name: hour-quiet, model: m, metric: traffic.count, below: 150, window: 1h}
  - {name: two-hours-busy, model: m, metric: traffic.count, above: 150, window: 2h}
  - {name: three-hours-quiet, model: m, metric: traffic.count, below: 250, window: 3h}
  - {name: four-hours-busy, model: m, metric: traffic.count, above: 250, window: 4h}
  # the last hour's 'a' is shifted by five standard deviations
  - {name: hour-drift, model: m, metric: drift.detected, above: 0.5, window: 1h}
  - {name: other-model, model: other, metric: traffic.count, below: 1000000, window: 1h}
"""
FIRED = {"hour-quiet", "two-hours-busy", "four-hours-busy", "hour-drift"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Model ``m`` with three hourly batches of traffic up to half an hour ago, and the rules."""
    root = tmp_path_factory.mktemp("alerting")
    settings = Settings(home=root / "home", user="tester")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)})
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    modelport.register(model, "m", sample=X, settings=settings)
    now = time.time()
    with PredictionLogWriter(settings.resolved_log_uri()) as writer:
        for i, minutes in enumerate(BATCHES):
            part = pd.DataFrame({"a": rng.normal(size=PER_BATCH), "b": rng.normal(size=PER_BATCH)})
            if i == len(BATCHES) - 1:
                part["a"] += 5
            ts = now - minutes * 60
            writer.append(
                LoggedBatch(
                    "m",
                    1,
                    new_prediction_ids(PER_BATCH, now=ts),
                    part,
                    ["a", "b"],
                    model.predict(part),
                    proba=model.predict_proba(part),
                    ts=ts,
                )
            )
    (root / "rules.yaml").write_text(RULES)
    yield root


def via_cli(home: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("MODELPORT_HOME", str(home / "home"))
    monkeypatch.setenv("MODELPORT_USER", "tester")
    result = CliRunner().invoke(
        cli, ["monitor", "m", "--rules", str(home / "rules.yaml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output)["alerts"])


def via_server(home: Path, window: str = "1h") -> list[dict[str, Any]]:
    """One pass of the background monitor, wired as ``runtime/monitor.py`` wires it."""
    settings = Settings(home=home / "home", user="tester")
    registry = Registry(settings)
    try:
        reader = PredictionLogReader(settings.resolved_log_uri())
        alerting = AlertService.from_settings(
            registry, settings, home / "rules.yaml", reader=reader
        )
        monitor = BackgroundMonitor(
            registry,
            reader,
            ["m"],
            MonitorGauges(CollectorRegistry()),
            window=window,
            alerting=alerting,
        )
        monitor.run_once()
        return monitor.fired
    finally:
        registry.close()


def judged(alerts: list[dict[str, Any]]) -> list[tuple[str, int, dict[str, float], str]]:
    """What fired, on which version, with which values: everything but the time."""
    return sorted((a["rule"], a["version"], a["values"], a["metric"]) for a in alerts)


@pytest.mark.parametrize("server_window", ["1h", "2h", "30min"])
def test_both_front_ends_fire_the_same_alerts_each_on_its_own_window(
    home: Path, monkeypatch: pytest.MonkeyPatch, server_window: str
) -> None:
    journal = Settings(home=home / "home").alert_journal_path()
    journal.unlink(missing_ok=True)  # the traffic is shared by the cases, the memory is not
    from_cli = via_cli(home, monkeypatch)
    assert {a["rule"] for a in from_cli} == FIRED
    journal.replace(journal.with_name("cli-alerts.jsonl"))  # the server starts without memory
    from_server = via_server(home, server_window)
    assert judged(from_server) == judged(from_cli)
    values = {a["rule"]: a["values"] for a in from_server}
    assert values["hour-quiet"] == {"traffic.count": float(PER_BATCH)}
    assert values["two-hours-busy"] == {"traffic.count": float(2 * PER_BATCH)}
    assert values["four-hours-busy"] == {"traffic.count": float(3 * PER_BATCH)}
    # both journalled the same firings (the journal has no version: dedup is per model)
    entries = [
        sorted((e["rule"], e["values"]) for e in map(json.loads, path.read_text().splitlines()))
        for path in (journal, journal.with_name("cli-alerts.jsonl"))
    ]
    assert entries[0] == entries[1] == sorted((a["rule"], a["values"]) for a in from_cli)
    # the journal is shared memory: within the cooldown neither front end fires again
    assert via_cli(home, monkeypatch) == []
    assert via_server(home, server_window) == []
