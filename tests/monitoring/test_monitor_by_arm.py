"""The monitor of one deployment: only the requests it routed, one entry per arm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import modelport
from modelport.cli.monitor import attach
from modelport.errors import DataError, InvalidArgument
from modelport.monitoring.monitor import run_monitor
from modelport.predictions import LoggedBatch, PredictionLogWriter, new_prediction_ids
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.settings import Settings

#: (version, deployment, rows): a canary's two arms, direct calls, a shadow's copies
TRAFFIC = [(1, "checkout", 120), (2, "checkout", 40), (1, None, 70), (2, "checkout/shadow", 30)]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    settings = Settings()
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    for _ in range(2):
        modelport.register(model, "m", sample=X, settings=settings)
    writer = PredictionLogWriter(settings.resolved_log_uri())
    start = 0
    for version, deployment, n in TRAFFIC:
        part = X.iloc[start : start + n].reset_index(drop=True)
        start += n
        writer.append(
            LoggedBatch(
                "m",
                version,
                new_prediction_ids(n),
                part,
                ["a", "b"],
                model.predict(part),
                latency_ms=1.0,
                ts=pd.Timestamp.now(tz="UTC").timestamp(),
                deployment=deployment,
            )
        )
    writer.close()
    return settings


def test_a_deployments_report_has_its_arms_and_only_their_answers(settings: Settings) -> None:
    registry = Registry(settings)
    reader = PredictionLogReader(settings.resolved_log_uri())
    report = run_monitor(registry, reader, "m", deployment="checkout")
    counts = {v.version: v.traffic["count"] for v in report.versions}
    assert counts == {1: 120, 2: 40}  # neither direct calls nor the shadow's copies
    assert all(
        v.traffic["deployments"] == {"checkout": v.traffic["count"]} for v in report.versions
    )
    # without it, every request of every version
    everything = run_monitor(registry, reader, "m")
    assert {v.version: v.traffic["count"] for v in everything.versions} == {1: 190, 2: 70}
    with pytest.raises(DataError, match="routed by deployment other") as raised:
        run_monitor(registry, reader, "m", deployment="other")
    assert "checkout, checkout/shadow" in (raised.value.hint or "")
    registry.close()


def test_the_cli_monitors_by_arm(settings: Settings) -> None:
    app = typer.Typer()
    attach(app)
    result = CliRunner().invoke(app, ["monitor", "m", "--deployment", "checkout", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["deployment"] == "checkout"
    assert [(v["version"], v["traffic"]["count"]) for v in data["versions"]] == [(1, 120), (2, 40)]
    text = CliRunner().invoke(app, ["monitor", "m", "--deployment", "checkout"])
    assert text.exit_code == 0 and "one entry per arm" in text.output
    refused = CliRunner().invoke(
        app, ["monitor", "m", "--deployment", "checkout", "--rules", "rules.yaml"]
    )
    assert isinstance(refused.exception, InvalidArgument)
