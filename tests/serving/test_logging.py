"""Prediction logging, feedback and the background monitor inside the server."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from modelport.predictions.reader import PredictionLogReader
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings
from tests.serving.conftest import Models


@pytest.fixture
def isolated(models: Models, tmp_path: Path) -> Settings:
    """The shared registry, but a prediction log of this test's own."""
    return Settings(home=models.settings.home, log_uri=str(tmp_path / "logs"), user="tester")


def serve(settings: Settings, **options: object) -> TestClient:
    config = ServeConfig(auth=False, refs=("numeric@production", "credit"), **options)  # type: ignore[arg-type]
    return TestClient(create_app(config, settings=settings))


def test_every_prediction_is_logged_and_feedback_is_joined(
    models: Models, isolated: Settings
) -> None:
    rows = models.X[:6].tolist()
    with serve(isolated, log_flush_interval=0.2) as client:
        v1 = client.post(
            "/v1/models/numeric@production:predict",
            json={"instances": rows[:4], "parameters": {"probabilities": True}},
        ).json()
        v2 = client.post(
            "/v2/models/numeric/versions/production/infer",
            json={
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [2, 4],
                        "datatype": "FP64",
                        "data": [v for row in rows[4:] for v in row],
                    }
                ]
            },
        ).json()
        ids = v1["prediction_ids"] + v2["parameters"]["prediction_ids"]
        assert len(set(ids)) == 6
        feedback = [
            {"prediction_id": pid, "label": int(p)}
            for pid, p in zip(ids, v1["predictions"] + v2["outputs"][0]["data"], strict=True)
        ]
        # one invalid record refuses the whole submission, and nothing of it is stored
        bad = client.post("/api/feedback", json=[*feedback, {"label": 3}])
        assert bad.status_code == 422, bad.text
        assert bad.json()["invalid"][0]["problem"].startswith("prediction_id")
        r = client.post("/api/feedback", json=[*feedback, {"prediction_id": "f" * 32, "label": 1}])
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 6 and r.json()["unknown_ids"] == ["f" * 32]
        assert client.post("/api/feedback", json=[{"label": 1}]).status_code == 422
        assert client.post("/api/feedback", content=b"{nope").status_code == 400
    # the server stopped gracefully: everything is on disk
    logged = PredictionLogReader(isolated.resolved_log_uri()).predictions(
        "numeric", with_feedback=True
    )
    assert sorted(logged["prediction_id"]) == sorted(ids)
    assert logged["label"].notna().all()
    np.testing.assert_allclose(
        logged.set_index("prediction_id").loc[ids[:4], ["f0", "f1", "f2", "f3"]].to_numpy(),
        np.asarray(rows[:4]),
    )
    assert logged["proba"].notna().all()  # V1 asked for them; V2 returns every output
    assert (logged["latency_ms"] > 0).all()


def test_logging_can_be_sampled_or_turned_off_per_model(models: Models, isolated: Settings) -> None:
    records = models.credit_test.head(3).to_dict(orient="records")
    with serve(isolated, model_log_rate={"credit": 0.0}) as client:
        r = client.post("/v1/models/credit:predict", json={"instances": records})
        assert r.status_code == 200 and "prediction_ids" not in r.json()
        r = client.post(
            "/v1/models/numeric@production:predict", json={"instances": models.X[:2].tolist()}
        )
        assert len(r.json()["prediction_ids"]) == 2
    reader = PredictionLogReader(isolated.resolved_log_uri())
    assert reader.predictions("credit").empty
    assert len(reader.predictions("numeric")) == 2


def test_background_monitor_exports_gauges(models: Models, isolated: Settings) -> None:
    rows = models.X[:200].tolist()
    with serve(isolated, log_flush_interval=0.1, monitor_interval=0.3, monitor_window="1h") as c:
        for i in range(0, 200, 20):
            assert (
                c.post(
                    "/v1/models/numeric@production:predict", json={"instances": rows[i : i + 20]}
                ).status_code
                == 200
            )
        deadline = time.time() + 20
        text = ""
        while time.time() < deadline:
            text = c.get("/metrics").text
            if 'modelport_monitored_predictions{model="numeric",version="1"} 200.0' in text:
                break
            time.sleep(0.2)
        assert 'modelport_monitored_predictions{model="numeric",version="1"} 200.0' in text
        assert 'modelport_drift_detected{model="numeric",version="1"}' in text
        assert "modelport_feature_psi" in text
