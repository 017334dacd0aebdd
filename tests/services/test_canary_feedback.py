"""The feedback service tells a server's canary windows the labels it stored, and only those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.predictions import LoggedBatch, PredictionLogWriter, new_prediction_ids
from modelport.registry import Registry
from modelport.services.feedback import FeedbackService
from modelport.settings import Settings


@pytest.fixture
def logged(tmp_path: Path) -> tuple[Settings, list[str]]:
    settings = Settings(home=tmp_path / "home", user="tester")
    X = pd.DataFrame({"a": np.arange(20.0) - 10, "b": np.zeros(20)})
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    modelport.register(model, "clf", sample=X, settings=settings)
    ids = new_prediction_ids(3)
    writer = PredictionLogWriter(settings.resolved_log_uri())
    writer.append(LoggedBatch("clf", 1, ids, np.zeros((3, 2)), ["a", "b"], np.zeros(3), ts=0.0))
    writer.close()
    return settings, ids


def test_stored_labels_are_reported_and_rejected_ones_are_not(
    logged: tuple[Settings, list[str]],
) -> None:
    settings, ids = logged
    told: list[list[tuple[str, Any]]] = []
    registry = Registry(settings)
    service = FeedbackService(registry, settings.resolved_log_uri(), on_labels=told.append)
    result = service.record_now([{"prediction_id": ids[0], "label": 1}, {"prediction_id": "x"}])
    assert result.rejected and told == []  # one invalid record: nothing stored, nothing told
    result = service.record_now(
        [{"prediction_id": ids[0], "label": 1}, {"prediction_id": ids[1], "label": 0}]
    )
    assert result.accepted == 2
    assert told == [[(ids[0], 1), (ids[1], 0)]]
    service.close()
    registry.close()


def test_a_failing_listener_does_not_fail_stored_feedback(
    logged: tuple[Settings, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    settings, ids = logged

    def broken(labels: list[tuple[str, Any]]) -> None:
        raise RuntimeError("bug in a listener")

    registry = Registry(settings)
    service = FeedbackService(registry, settings.resolved_log_uri(), on_labels=broken)
    assert service.record_now([{"prediction_id": ids[2], "label": 1}]).accepted == 1
    assert "reporting labels" in caplog.text
    service.close()
    registry.close()
