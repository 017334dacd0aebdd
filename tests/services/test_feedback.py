"""One feedback service behind ``POST /api/feedback`` and ``modelport feedback``."""

from __future__ import annotations

import json
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
from modelport.registry import Registry
from modelport.services import feedback as feedback_module
from modelport.services.feedback import FeedbackService
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

cli = typer.Typer()
attach(cli)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A classifier 'clf' (classes 0/1) and a regressor 'reg', 20 logged predictions each."""
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "tester")
    settings = Settings()
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    modelport.register(
        LogisticRegression().fit(X, (X["a"] > 0).astype(int)), "clf", sample=X, settings=settings
    )
    modelport.register(LinearRegression().fit(X, X["a"] * 2), "reg", sample=X, settings=settings)
    return settings


def log(
    settings: Settings, name: str, n: int = 20, *, writer: PredictionLogWriter | None = None
) -> list[str]:
    own = writer is None
    writer = writer or PredictionLogWriter(settings.resolved_log_uri())
    ids = new_prediction_ids(n)
    x = np.zeros((n, 2))
    writer.append(LoggedBatch(name, 1, ids, x, ["a", "b"], np.zeros(n, dtype=int), ts=0.0))
    if own:
        writer.close()
    return ids


def via_http(settings: Settings, body: Any) -> tuple[int, dict[str, Any]]:
    with TestClient(
        create_app(ServeConfig(auth=False, refs=("clf",)), settings=settings)
    ) as client:
        r = client.post("/api/feedback", json=body)
    return r.status_code, r.json()


def via_cli(tmp_path: Path, body: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "feedback.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in body))
    result = CliRunner().invoke(cli, ["feedback", str(path), "--json"])
    return result.exit_code, json.loads(result.output)


def stored(settings: Settings) -> pd.DataFrame:
    return PredictionLogReader(settings.resolved_log_uri()).feedback()


def test_both_front_ends_refuse_impossible_labels_alike_and_store_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    clf, reg = log(settings, "clf"), log(settings, "reg")
    body = [
        {"prediction_id": clf[0], "label": 1},
        {"prediction_id": clf[1], "label": "banana"},
        {"prediction_id": clf[2], "label": True},  # True == 1 in Python, not a class
        {"prediction_id": clf[3], "label": "1"},
        {"prediction_id": reg[0], "label": 2.5},
        {"prediction_id": reg[1], "label": "14.2"},
        {"prediction_id": reg[2], "label": None},
        {"prediction_id": "0" * 32, "label": 1},
    ]
    status, http = via_http(settings, body)
    code, terminal = via_cli(tmp_path, body)
    assert status == 422 and code == 1
    assert http == terminal
    assert [p["index"] for p in http["invalid"]] == [1, 2, 3, 5, 6]
    problems = {p["index"]: p["problem"] for p in http["invalid"]}
    assert "not a class" in problems[1] and "clf:1" in problems[1]
    assert "not a number" in problems[5] and "reg:1" in problems[5]
    assert problems[6] == "label is null"
    assert http["accepted"] == 0 and http["unknown_ids"] == ["0" * 32]
    assert stored(settings).empty  # bad input changes nothing stored


def test_both_front_ends_store_good_labels_as_the_model_s_values(
    settings: Settings, tmp_path: Path
) -> None:
    clf, reg = log(settings, "clf"), log(settings, "reg")
    body = [
        {"prediction_id": clf[0], "label": 1.0},  # the class 1
        {"prediction_id": clf[1], "label": 0},
        {"prediction_id": reg[0], "label": 3},
        {"prediction_id": "0" * 32, "label": 1},
    ]
    status, http = via_http(settings, body)
    assert status == 200 and http == {"accepted": 3, "unknown_ids": ["0" * 32], "invalid": []}
    code, terminal = via_cli(tmp_path, body)
    assert code == 0 and terminal == http
    labels = stored(settings).set_index("prediction_id")["label"]
    assert json.loads(labels[clf[0]]) == 1 and labels[clf[0]] == "1"


def test_young_ids_get_a_second_look_in_both_front_ends(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(settings)
    root = settings.resolved_log_uri()
    # the server's own writer: its buffer is flushed before the id is called unknown
    writer = PredictionLogWriter(root)
    ids = log(settings, "clf", 2, writer=writer)
    service = FeedbackService(registry, root, writer=writer, flush_interval=60.0)
    result = service.record_now([{"prediction_id": ids[0], "label": 1}])
    assert result.accepted == 1 and not result.unknown_ids
    service.close()
    # the CLI has no writer: another process flushes while it waits for the second look
    other = PredictionLogWriter(root)
    ids = log(settings, "clf", 2, writer=other)
    waited: list[float] = []

    async def other_process_flushes(seconds: float) -> None:
        waited.append(seconds)
        other.flush()

    monkeypatch.setattr(feedback_module.asyncio, "sleep", other_process_flushes)
    service = FeedbackService(registry, root, flush_interval=60.0)
    result = service.record_now([{"prediction_id": ids[0], "label": 0}])
    assert result.accepted == 1 and waited == [120.0]
    service.close()
    registry.close()
