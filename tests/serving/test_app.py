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
        auth=False,
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
        app = AccessLogMiddleware(create_app(ServeConfig(auth=False), settings=models.settings))
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


def _assert_error_shape(r: object, status: int) -> dict:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/json", r.headers  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["code"], str) and body["code"]
    return body


CREDIT_ROW = {"age": 41, "income": 52000.0, "home": "rent", "purpose": "car"}
CREDIT_V2 = [
    {"name": "age", "shape": [1], "datatype": "INT64", "data": [41]},
    {"name": "income", "shape": [1], "datatype": "FP64", "data": [52000.0]},
    {"name": "home", "shape": [1], "datatype": "BYTES", "data": ["rent"]},
    {"name": "purpose", "shape": [1], "datatype": "BYTES", "data": ["car"]},
]
ROW_V2 = [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]


def _json(doc: object) -> bytes:
    import orjson

    return orjson.dumps(doc)


CLIENT_MISTAKES = [
    # V2 outputs and parameters of the wrong JSON type
    ("/v2/models/numeric/infer", _json({"inputs": ROW_V2, "outputs": 3}), 400),
    ("/v2/models/numeric/infer", _json({"inputs": ROW_V2, "outputs": True}), 400),
    (
        "/v2/models/numeric/infer",
        _json({"inputs": ROW_V2, "outputs": [{"name": "predict", "parameters": [1]}]}),
        400,
    ),
    (
        "/v2/models/numeric/infer",
        _json({"inputs": ROW_V2, "outputs": [{"name": "predict", "parameters": "x"}]}),
        400,
    ),
    # V2 shapes: booleans are not sizes; a huge shape without its data
    ("/v2/models/numeric/infer", _json({"inputs": [{**ROW_V2[0], "shape": [True, 4]}]}), 422),
    (
        "/v2/models/numeric/infer",
        _json({"inputs": [{**ROW_V2[0], "shape": [2**32, 2**32], "data": []}]}),
        422,
    ),
    ("/v2/models/numeric/infer", _json({"inputs": [{**ROW_V2[0], "shape": [10**12, 4]}]}), 422),
    # a V1 record whose value is a list or an object
    ("/v1/models/credit:predict", _json({"instances": [{**CREDIT_ROW, "home": ["rent"]}]}), 422),
    ("/v1/models/credit:predict", _json({"instances": [{**CREDIT_ROW, "home": {"a": 1}}]}), 422),
    # zero rows, on every input form
    ("/v1/models/numeric:predict", b'{"instances": []}', 422),
    ("/v1/models/credit:predict", _json({"inputs": {k: [] for k in CREDIT_ROW}}), 422),
    (
        "/v2/models/numeric/infer",
        _json({"inputs": [{**ROW_V2[0], "shape": [0, 4], "data": []}]}),
        422,
    ),
    (
        "/v2/models/credit/infer",
        _json({"inputs": [{**i, "shape": [0], "data": []} for i in CREDIT_V2]}),
        422,
    ),
    # a version segment that is not ASCII digits
    ("/v2/models/numeric/versions/%C2%B3/infer", _json({"inputs": ROW_V2}), 400),
    ("/v2/models/numeric/versions/%D9%A2/infer", _json({"inputs": ROW_V2}), 400),
    # too lenient before: booleans and text as numbers, BOOL for a float feature
    ("/v1/models/credit:predict", _json({"instances": [{**CREDIT_ROW, "age": True}]}), 422),
    ("/v1/models/credit:predict", _json({"instances": [{**CREDIT_ROW, "income": "14.2"}]}), 422),
    ("/v1/models/numeric:predict", _json({"instances": [[True, "14.2", 1, 2]]}), 422),
    (
        "/v2/models/numeric/infer",
        _json({"inputs": [{**ROW_V2[0], "datatype": "BOOL", "data": [True] * 4}]}),
        422,
    ),
    (
        "/v2/models/credit/infer",
        _json(
            {
                "inputs": [
                    *CREDIT_V2[:1],
                    {"name": "income", "shape": [1], "datatype": "BOOL", "data": [True]},
                    *CREDIT_V2[2:],
                ]
            }
        ),
        422,
    ),
    # ambiguous: repeated keys and input names, a non-boolean flag
    ("/v1/models/numeric:predict", b'{"instances": [[1, 2, 3, 4]], "instances": [[1]]}', 400),
    (
        "/v1/models/credit:predict",
        b'{"instances": [{"age": 41, "age": 42, "income": 1.0, "home": "rent", "purpose": "car"}]}',
        400,
    ),
    ("/v2/models/credit/infer", _json({"inputs": [*CREDIT_V2, CREDIT_V2[0]]}), 400),
    (
        "/v1/models/numeric:predict",
        _json({"instances": [[1, 2, 3, 4]], "parameters": {"probabilities": "yes"}}),
        400,
    ),
]


@pytest.mark.parametrize(("path", "body", "status"), CLIENT_MISTAKES)
def test_client_mistakes_are_4xx_in_the_json_error_shape(
    client: TestClient, path: str, body: bytes, status: int
) -> None:
    _assert_error_shape(client.post(path, content=body), status)


def test_zero_rows_are_refused_saying_so(client: TestClient) -> None:
    body = _assert_error_shape(
        client.post("/v1/models/numeric:predict", json={"instances": []}), 422
    )
    assert "no input rows" in body["error"]


def test_booleans_and_text_for_numbers_name_the_field(client: TestClient) -> None:
    r = client.post(
        "/v1/models/credit:predict",
        json={"instances": [{**CREDIT_ROW, "age": True, "income": "14.2"}]},
    )
    body = _assert_error_shape(r, 422)
    assert {p["field"] for p in body["problems"]} == {"age", "income"}


def test_a_non_ascii_digit_version_is_400_json_on_every_route(client: TestClient) -> None:
    for path in ("/v2/models/numeric/versions/%C2%B3", "/v2/models/numeric/versions/%D9%A2/ready"):
        body = _assert_error_shape(client.get(path), 400)
        assert "version" in body["error"]


def test_binary_body_without_its_header_names_the_header(client: TestClient) -> None:
    raw = np.array([1.0, 2.0, 3.0, 4.0]).tobytes() + b"\xff"
    header = _json(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 32},
                }
            ]
        }
    )
    for content_type in ("application/octet-stream", "application/json"):
        r = client.post(
            "/v2/models/numeric/infer", content=header + raw, headers={"content-type": content_type}
        )
        assert "Inference-Header-Content-Length" in _assert_error_shape(r, 400)["error"]
    r = client.post(
        "/v2/models/numeric/infer",
        content=header + raw,
        headers={"inference-header-content-length": b"\xb3"},  # read as latin-1 '³'; int() fails
    )
    _assert_error_shape(r, 400)


def test_wrong_methods_on_prediction_routes_are_405(client: TestClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        for path in (
            "/v1/models/numeric:predict",
            "/v1/models/numeric@production:predict",
            "/v2/models/numeric/infer",
            "/v2/models/numeric/versions/1/infer",
        ):
            r = client.request(method, path)
            body = _assert_error_shape(r, 405)
            assert r.headers["allow"] == "POST" and body["code"] == "method_not_allowed"


def test_every_http_error_has_the_json_error_shape(client: TestClient) -> None:
    for method, path, status in [
        ("GET", "/nope", 404),
        ("POST", "/v2/models", 404),
        ("GET", "/v1/models/numeric/extra", 404),
        ("DELETE", "/v2/health/live", 405),
        ("POST", "/metrics", 405),
        ("GET", "/api/feedback", 405),
    ]:
        r = client.request(method, path)
        body = _assert_error_shape(r, status)
        assert path in body["error"]
    assert client.request("DELETE", "/v2/health/live").headers["allow"] == "GET"


@pytest.fixture(scope="module")
def pointer_client(models: Models) -> Iterator[TestClient]:
    """Only pointers and exact versions: `numeric` (latest, 2) and `credit` are not followed."""
    config = ServeConfig(
        auth=False, refs=("numeric@production", "credit@production"), poll_interval=0.1
    )
    with TestClient(
        create_app(config, settings=models.settings), raise_server_exceptions=False
    ) as c:
        yield c


def test_model_metadata_is_the_latest_version_when_served_under_another_pointer(
    pointer_client: TestClient,
) -> None:
    # credit's latest version (1) is served as credit@production
    meta = pointer_client.get("/v2/models/credit")
    assert meta.status_code == 200, meta.text
    assert meta.json()["versions"] == ["1"]
    assert [i["name"] for i in meta.json()["inputs"]] == ["age", "income", "home", "purpose"]
    # numeric's latest (2) is not served, but one version is (production, 1): the bare
    # name resolves to it, as clients that know only the model name expect
    meta = pointer_client.get("/v2/models/numeric")
    assert meta.status_code == 200, meta.text
    assert meta.json()["versions"] == ["1"]


def test_unexpected_errors_are_500_in_the_json_error_shape(
    pointer_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = pointer_client.app.state.pool  # type: ignore[attr-defined]

    def broken(ref: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pool, "route", broken)
    for r in (
        pointer_client.get("/v1/models/credit@production"),
        pointer_client.post("/v1/models/credit@production:predict", json={"instances": [{}]}),
    ):
        body = _assert_error_shape(r, 500)
        assert "RuntimeError" in body["error"] and "a bug" not in body["error"]


def test_request_validation_errors_have_the_json_error_shape(pointer_client: TestClient) -> None:
    fastapi_app = pointer_client.app.app.fallback  # type: ignore[attr-defined]

    @fastapi_app.get("/test-only/typed/{n}")
    async def typed(n: int) -> dict[str, int]:
        return {"n": n}

    assert pointer_client.get("/test-only/typed/3").json() == {"n": 3}
    body = _assert_error_shape(pointer_client.get("/test-only/typed/three"), 422)
    assert body["code"] == "invalid_input" and body["problems"][0]["field"] == "path.n"


def test_feedback_bodies_over_the_limit_are_refused_while_streaming(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while reading
        yield b"["
        for _ in range(2000):
            yield b'{"prediction_id": "x", "label": 1},'
        yield b"{}]"

    r = client.post("/api/feedback", content=chunks())
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "payload_too_large"
