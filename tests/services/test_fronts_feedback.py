"""Feedback through POST /api/feedback and through ``modelport feedback``: the same outcome.

``test_feedback.py`` pins that both front ends refuse and accept records alike. This goes
one step further: two identical homes (same models, same logged predictions, same ids),
the same records sent to one over HTTP and to the other from a file, and then the monitor
must report the same live performance from both: what was stored is the same.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.linear_model import LinearRegression, LogisticRegression
from typer.testing import CliRunner

import modelport
from modelport.cli.monitor import attach
from modelport.predictions import LoggedBatch, PredictionLogWriter, new_prediction_ids
from modelport.predictions.reader import PredictionLogReader
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

cli = typer.Typer()
attach(cli)
N = 300
UNKNOWN = "0" * 32


def make_home(home: Path, ids: dict[str, list[str]], ts: float) -> None:
    """A classifier ``clf`` and a regressor ``reg``, N logged predictions each, under ``ids``."""
    settings = Settings(home=home, user="tester")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=N), "b": rng.normal(size=N)})
    clf = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    reg = LinearRegression().fit(X, 2 * X["a"] - X["b"])
    with PredictionLogWriter(settings.resolved_log_uri()) as writer:
        for name, model in (("clf", clf), ("reg", reg)):
            modelport.register(model, name, sample=X, settings=settings)
            proba = model.predict_proba(X) if name == "clf" else None
            writer.append(
                LoggedBatch(name, 1, ids[name], X, ["a", "b"], model.predict(X), proba, ts=ts)
            )


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    """Two homes alike down to the prediction ids: one for HTTP, one for the CLI."""
    ts = time.time() - 3600  # an hour old: no id is young enough for a second look
    ids = {name: new_prediction_ids(N, now=ts) for name in ("clf", "reg")}
    pair = (tmp_path / "http", tmp_path / "cli")
    for home in pair:
        make_home(home, ids, ts)
    return pair


def logged_ids(home: Path, name: str) -> list[str]:
    log = PredictionLogReader(Settings(home=home).resolved_log_uri()).predictions(name)
    return log["prediction_id"].tolist()


def feedback(ids: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Labels that disagree with some predictions (so the metrics are not trivially perfect)."""
    rng = np.random.default_rng(1)
    clf = [{"prediction_id": pid, "label": int(rng.integers(0, 2))} for pid in ids["clf"][:120]]
    reg = [{"prediction_id": pid, "label": float(rng.normal())} for pid in ids["reg"][:80]]
    return [*clf, *reg, {"prediction_id": UNKNOWN, "label": 1}]


def via_http(home: Path, body: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    settings = Settings(home=home, user="tester")
    with TestClient(
        create_app(ServeConfig(auth=False, refs=("clf",)), settings=settings)
    ) as client:
        r = client.post("/api/feedback", json=body)
    return r.status_code, r.json()


def cli_json(monkeypatch: pytest.MonkeyPatch, home: Path, *args: str) -> tuple[int, Any]:
    monkeypatch.setenv("MODELPORT_HOME", str(home))
    result = CliRunner().invoke(cli, [*args, "--json"])
    return result.exit_code, json.loads(result.output)


def via_cli(
    monkeypatch: pytest.MonkeyPatch, home: Path, body: list[dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    path = home.parent / "feedback.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in body))
    return cli_json(monkeypatch, home, "feedback", str(path))


def performance(monkeypatch: pytest.MonkeyPatch, home: Path, name: str) -> dict[str, Any]:
    code, report = cli_json(monkeypatch, home, "monitor", name)
    assert code == 0, report
    [version] = report["versions"]
    return dict(version["performance"])


def test_the_same_feedback_gives_the_same_stored_labels_and_performance(
    homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    http_home, cli_home = homes
    ids = {name: logged_ids(http_home, name) for name in ("clf", "reg")}
    assert ids == {name: logged_ids(cli_home, name) for name in ("clf", "reg")}  # twins
    body = feedback(ids)
    # one impossible label refuses the whole submission alike, and stores nothing in either
    refused = [*body[:5], {**body[5], "label": 7}, *body[6:]]
    status, http = via_http(http_home, refused)
    code, terminal = via_cli(monkeypatch, cli_home, refused)
    assert (status, code) == (422, 1) and http == terminal
    assert [(p["index"], p["prediction_id"]) for p in http["invalid"]] == [
        (5, body[5]["prediction_id"])
    ]
    for home in homes:
        assert PredictionLogReader(Settings(home=home).resolved_log_uri()).feedback().empty
    # the good records: the same count stored, the same unknown id
    status, http = via_http(http_home, body)
    code, terminal = via_cli(monkeypatch, cli_home, body)
    assert (status, code) == (200, 0)
    assert http == terminal == {"accepted": 200, "unknown_ids": [UNKNOWN], "invalid": []}
    # and the monitor finds the same performance in both homes, computed from these labels
    for name, labelled in (("clf", 120), ("reg", 80)):
        from_http, from_cli = (
            performance(monkeypatch, http_home, name),
            performance(monkeypatch, cli_home, name),
        )
        assert from_http == from_cli, name
        assert from_http["labelled"] == labelled
    # ... and it is the accuracy of the stored labels against the logged predictions
    log = PredictionLogReader(Settings(home=cli_home).resolved_log_uri())
    joined = log.predictions("clf", with_feedback=True).dropna(subset=["label"])
    right = (joined["prediction"] == joined["label"].map(json.loads)).mean()
    assert performance(monkeypatch, cli_home, "clf")["metrics"]["accuracy"] == pytest.approx(right)
    assert 0.3 < right < 0.7  # random labels against real predictions: not a trivial metric
