"""The app in-process (Starlette TestClient runs its lifespan): routes, errors, metrics."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from modelport.serving import BatchConfig, ServeConfig, create_app
from modelport.serving.access_log import AccessLogMiddleware
from tests.serving.conftest import Models


@pytest.fixture(scope="module")
def client(models: Models) -> Iterator[TestClient]:
    config = ServeConfig(
        max_body_bytes=50_000,
        poll_interval=0.1,
        model_batch={"credit": BatchConfig(max_batch_size=4)},
    )
    app = AccessLogMiddleware(create_app(config, settings=models.settings))
    with TestClient(app) as c:
        yield c


def test_v1_every_address_form(client: TestClient, models: Models) -> None:
    rows = models.X[:5].tolist()
    for name, model in [
        ("numeric", models.numeric_v2),
        ("numeric:2", models.numeric_v2),
        ("numeric@production", models.numeric_v1),
        ("numeric%40production", models.numeric_v1),
        ("numeric:1", models.numeric_v1),
    ]:
        r = client.post(f"/v1/models/{name}:predict", json={"instances": rows})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == model.predict(models.X[:5]).tolist()
        assert len(r.json()["prediction_ids"]) == 5


def test_v1_records_columns_and_probabilities(client: TestClient, models: Models) -> None:
    frame = models.credit_test.head(7)
    expected = models.credit_model.predict(frame).tolist()
    records = frame.to_dict(orient="records")
    r = client.post("/v1/models/credit:predict", json={"instances": records})
    assert r.json()["predictions"] == expected
    columns = frame.to_dict(orient="list")
    r = client.post(
        "/v1/models/credit@production:predict",
        json={"inputs": columns, "parameters": {"probabilities": True}},
    )
    body = r.json()
    assert body["predictions"] == expected
    assert np.allclose(body["probabilities"], models.credit_model.predict_proba(frame))
    assert body["classes"] == [0, 1]


def test_status_health_and_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["name"] == "modelport"
    assert client.get("/v1/models/numeric@production").json()["version"] == "1"
    assert client.get("/v2/models/numeric/versions/production/ready").status_code == 200
    meta = client.get("/v2/models/credit").json()
    assert [i["name"] for i in meta["inputs"]] == ["age", "income", "home", "purpose"]
    assert client.get("/v2/models/nope/ready").status_code == 404


def test_errors_are_4xx_with_the_protocol_error_shape(client: TestClient) -> None:
    cases = [
        ("/v1/models/nope:predict", b'{"instances": [[1]]}', 404),
        ("/v1/models/numeric:x:predict", b'{"instances": [[1]]}', 400),
        ("/v1/models/numeric:7:predict", b'{"instances": [[1, 2, 3, 4]]}', 404),
        ("/v1/models/numeric@canary:predict", b'{"instances": [[1, 2, 3, 4]]}', 404),
        ("/v1/models/numeric:predict", b"{oops", 400),
        ("/v1/models/numeric:predict", b'{"instances": [[1, 2]]}', 422),
        ("/v1/models/numeric:predict", b'{"instances": [["a", 2, 3, 4]]}', 422),
        ("/v1/models/credit:predict", b'{"instances": [{"age": "old"}]}', 422),
        ("/v2/models/numeric/versions/5/infer", b'{"inputs": []}', 404),
        ("/v2/models/numeric/infer", b"[]", 400),
        ("/v1/models/numeric:predict", b'{"instances": [' + b"[1,2,3,4]," * 6000 + b"[1]]}", 413),
    ]
    for path, body, status in cases:
        r = client.post(path, content=body)
        assert r.status_code == status, (path, r.text)
        assert isinstance(r.json()["error"], str)
    r = client.post("/v1/models/numeric:predict", json={"instances": [[1, 2, 3, 4]]})
    assert r.status_code == 200  # still serving


def test_request_id_is_echoed_or_created(client: TestClient) -> None:
    r = client.get("/v2/health/live", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = client.get("/v2/health/live", headers={"X-Request-ID": "bad id {}"})
    assert r.headers["x-request-id"] != "bad id"
    assert len(r.headers["x-request-id"]) == 24


def test_metrics_and_openapi(client: TestClient) -> None:
    client.post("/v1/models/numeric:predict", json={"instances": [[1, 2, 3, 4]]})
    text = client.get("/metrics").text
    assert (
        'modelport_requests_total{model="numeric",protocol="v1",status="200",version="2"}' in text
    )
    assert "modelport_batch_size_bucket" in text
    assert 'modelport_model_load_seconds{model="credit",version="1"}' in text
    assert "modelport_queue_depth" in text
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/models/{name}:predict" in paths
    assert "/v2/models/{name}/versions/{version}/infer" in paths
    assert "/v2/health/ready" in paths
    assert client.get("/docs").status_code == 200


def test_alias_moves_are_followed(client: TestClient, models: Models) -> None:
    import time

    from modelport import set_alias

    set_alias("numeric:2", "canary", settings=models.settings)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = client.get("/v1/models/numeric@canary")
        if r.status_code == 200:
            break
        time.sleep(0.05)
    assert r.json()["version"] == "2"
    set_alias("numeric:1", "canary", settings=models.settings)
    while (
        time.monotonic() < deadline
        and client.get("/v1/models/numeric@canary").json()["version"] != "1"
    ):
        time.sleep(0.05)
    assert client.get("/v1/models/numeric@canary").json()["version"] == "1"


def test_access_log_lines_are_json_with_the_request_id(models: Models) -> None:
    import io

    import orjson

    from modelport.serving import access_log

    stream = io.StringIO()
    access_log.configure(stream)
    try:
        app = AccessLogMiddleware(create_app(ServeConfig(), settings=models.settings))
        with TestClient(app) as c:
            c.post(
                "/v1/models/numeric:predict",
                json={"instances": models.X[:1].tolist()},
                headers={"X-Request-ID": "req-42"},
            )
    finally:
        access_log._stream = None
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    [line] = [entry for entry in lines if entry["request_id"] == "req-42"]
    assert line["status"] == 200 and line["model"] == "numeric" and line["duration_ms"] > 0
