"""The feedback journal records who sent each label: the key id behind ``POST /api/feedback``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.predictions import LoggedBatch, PredictionLogWriter, new_prediction_ids
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.services.feedback import FeedbackService
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home", user="tester")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    modelport.register(
        LogisticRegression().fit(X, (X["a"] > 0).astype(int)), "clf", sample=X, settings=settings
    )
    return settings


def _log(settings: Settings, n: int) -> list[str]:
    writer = PredictionLogWriter(settings.resolved_log_uri())
    ids = new_prediction_ids(n)
    writer.append(
        LoggedBatch("clf", 1, ids, np.zeros((n, 2)), ["a", "b"], np.zeros(n, dtype=int), ts=0.0)
    )
    writer.close()
    return ids


def _journal(settings: Settings) -> list[dict[str, object]]:
    root = Path(settings.resolved_log_uri()) / "feedback"
    return [orjson.loads(line) for path in sorted(root.rglob("*.jsonl")) for line in path.open()]


def test_a_key_holders_feedback_is_stored_with_the_key_id(settings: Settings) -> None:
    ids = _log(settings, 4)
    registry = Registry(settings)
    record, key = registry.keys.create(["feedback"])
    registry.close()
    with TestClient(create_app(ServeConfig(refs=("clf",)), settings=settings)) as client:
        answer = client.post(
            "/api/feedback",
            json=[{"prediction_id": pid, "label": 1} for pid in ids[:2]],
            headers={"X-API-Key": key},
        )
    assert answer.status_code == 200, answer.text
    lines = _journal(settings)
    assert [line["source"] for line in lines] == [record.id, record.id]
    assert key not in str(lines)  # the id, never the secret
    joined = PredictionLogReader(settings.resolved_log_uri()).predictions("clf", with_feedback=True)
    sources = joined.set_index("prediction_id")["feedback_source"]
    assert sources[ids[0]] == record.id and pd.isna(sources[ids[3]])


def test_without_a_known_sender_no_source_is_written_and_old_lines_read_as_unknown(
    settings: Settings,
) -> None:
    ids = _log(settings, 3)
    service = FeedbackService(Registry(settings), settings.resolved_log_uri(), flush_interval=0)
    try:
        assert service.record_now({"prediction_id": ids[0], "label": 0}).accepted == 1
        assert service.record_now({"prediction_id": ids[1], "label": 1}, source="cli").accepted
    finally:
        service.close()
        service.registry.close()
    lines = {line["prediction_id"]: line for line in _journal(settings)}
    assert "source" not in lines[ids[0]] and lines[ids[1]]["source"] == "cli"
    feedback = (
        PredictionLogReader(settings.resolved_log_uri()).feedback().set_index("prediction_id")
    )
    assert feedback.loc[ids[0], "source"] is None or pd.isna(feedback.loc[ids[0], "source"])
    assert feedback.loc[ids[1], "source"] == "cli"


def test_a_corrected_label_carries_its_own_source(settings: Settings) -> None:
    [pid] = _log(settings, 1)
    service = FeedbackService(Registry(settings), settings.resolved_log_uri(), flush_interval=0)
    try:
        service.record_now({"prediction_id": pid, "label": 0}, source="key-a")
        service.record_now({"prediction_id": pid, "label": 1})  # later, from nobody known
    finally:
        service.close()
        service.registry.close()
    joined = PredictionLogReader(settings.resolved_log_uri()).predictions("clf", with_feedback=True)
    assert joined["label"].iloc[0] == "1" and pd.isna(joined["feedback_source"].iloc[0])
