"""The AWS Lambda handler, fed event shapes recorded from AWS's documentation.

The events in tests/serving/events/ are API Gateway REST (payload 1.0), HTTP API (payload
2.0, body base64-encoded as API Gateway sends binary media) and a Lambda Function URL;
each goes through Mangum into the same app ``modelport serve`` runs.
"""

from __future__ import annotations

import base64
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.errors import ModelNotFound
from modelport.runtime.config import ServeConfig
from modelport.serving import serverless
from modelport.serving.serverless import LambdaHandler
from modelport.settings import Settings

pytest.importorskip("mangum", reason="pip install 'modelport[serverless]'")
EVENTS = Path(__file__).parent / "events"
ROWS = pd.DataFrame({"age": [31, 67], "income": [42000.0, 21000.0]})


class Context:
    """What Lambda passes as ``context`` (the attributes Mangum reads)."""

    function_name = "modelport"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def body_of(response: dict[str, Any]) -> Any:
    raw = response["body"]
    return json.loads(base64.b64decode(raw) if response["isBase64Encoded"] else raw)


def pool_of(handler: LambdaHandler) -> Any:
    return handler.app.app.app.fallback.state.pool  # access log -> guard -> hot router -> app


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, LogisticRegression]:
    settings = Settings(home=tmp_path_factory.mktemp("lambda") / "home", user="tester")
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"age": rng.integers(18, 80, 300), "income": rng.normal(4e4, 1e4, 300)})
    model = LogisticRegression().fit(train, (train["age"] > 45).astype(int))
    modelport.register(model, "credit", sample=train, settings=settings)
    modelport.set_alias("credit:1", "production", settings=settings)
    return settings, model


@pytest.fixture(scope="module")
def handler(home: tuple[Settings, LogisticRegression]) -> Iterator[LambdaHandler]:
    settings, _ = home
    built = LambdaHandler(ServeConfig(auth=False, log_sample_rate=0), settings)
    yield built
    built.close()


def test_rest_api_v1_event_answers_a_v1_prediction(
    handler: LambdaHandler, home: tuple[Settings, LogisticRegression]
) -> None:
    response = handler(event("api_gateway_rest_v1_predict"), Context())
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["x-model-version"] == "credit:1"
    assert "x-request-id" in response["headers"]
    assert body_of(response)["predictions"] == home[1].predict(ROWS).tolist()


def test_http_api_v2_event_with_a_base64_body_answers_a_v2_inference(
    handler: LambdaHandler, home: tuple[Settings, LogisticRegression]
) -> None:
    response = handler(event("http_api_v2_infer"), Context())
    assert response["statusCode"] == 200, response
    answer = body_of(response)
    assert answer["model_name"] == "credit" and answer["model_version"] == "1"
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["predict"]["data"] == home[1].predict(ROWS).tolist()
    assert np.allclose(
        np.array(outputs["predict_proba"]["data"]).reshape(2, 2), home[1].predict_proba(ROWS)
    )


def test_function_url_event_with_a_misspelt_feature_is_a_422_naming_it(
    handler: LambdaHandler,
) -> None:
    response = handler(event("function_url_predict_invalid"), Context())
    assert response["statusCode"] == 422, response
    assert response["headers"]["content-type"] == "application/json"
    error = body_of(response)
    assert "unknown feature" in error["error"] and "'incme'" in error["error"]


def test_function_url_event_answers_with_the_alias_and_health_routes_work(
    handler: LambdaHandler, home: tuple[Settings, LogisticRegression]
) -> None:
    good = event("function_url_predict_invalid")
    good["body"] = json.dumps({"instances": ROWS.to_dict(orient="records")})
    response = handler(good, Context())
    assert response["statusCode"] == 200, response
    assert body_of(response)["predictions"] == home[1].predict(ROWS).tolist()
    ready = event("api_gateway_rest_v1_predict")
    ready.update(httpMethod="GET", path="/v2/health/ready", body=None)
    assert handler(ready, Context())["statusCode"] == 200


def test_models_load_once_per_container(handler: LambdaHandler) -> None:
    pool = pool_of(handler)
    before = dict(pool.router.versions)
    for _ in range(3):
        assert handler(event("api_gateway_rest_v1_predict"), Context())["statusCode"] == 200
    after = pool.router.versions
    assert before and all(after[key] is served for key, served in before.items())


def test_the_entry_point_builds_from_the_environment_once(
    home: tuple[Settings, LogisticRegression], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, model = home
    monkeypatch.setenv("MODELPORT_HOME", str(settings.resolved_home()))
    monkeypatch.setenv("MODELPORT_SERVERLESS__REFS", '["credit@production"]')
    monkeypatch.setenv("MODELPORT_SERVING__AUTH", "false")
    monkeypatch.setenv("MODELPORT_SERVING__LOG_SAMPLE_RATE", "0")
    monkeypatch.setattr(serverless, "_container", None)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        first = serverless.handler(event("api_gateway_rest_v1_predict"), Context())
        built = serverless.container()
        second = serverless.handler(event("api_gateway_rest_v1_predict"), Context())
        assert body_of(second) == body_of(first)
        assert serverless.container() is built  # the same container answers the next event
        assert built.config.refs == ("credit@production",) and not built.config.auth
        assert body_of(first)["predictions"] == model.predict(ROWS).tolist()
        # the container follows the one pointer it was given, not every model's latest
        assert [str(p) for p in pool_of(built).router.pointers] == ["credit@production"]
        assert signal.getsignal(signal.SIGTERM) is not previous  # drains when reclaimed
    finally:
        signal.signal(signal.SIGTERM, previous)
        if serverless._container is not None:
            serverless._container.close()


def test_a_cold_start_that_cannot_load_says_which_model(
    home: tuple[Settings, LogisticRegression],
) -> None:
    with pytest.raises(ModelNotFound, match="nosuch"):
        LambdaHandler(ServeConfig(refs=("nosuch@production",), auth=False), home[0])


def test_without_mangum_the_error_names_the_extra(
    home: tuple[Settings, LogisticRegression], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from modelport.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "mangum", None)  # as if not installed
    with pytest.raises(MissingExtraError, match="mangum") as info:
        LambdaHandler(ServeConfig(auth=False), home[0])
    assert "modelport[serverless]" in str(info.value.hint)


@pytest.mark.integration
def test_cloud_run_the_cli_listens_on_port_and_stops_cleanly(
    home: tuple[Settings, LogisticRegression], tmp_path: Path
) -> None:
    """Cloud Run (and Cloud Functions 2nd gen) set PORT and stop a container with SIGTERM."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.serving.conftest import free_port

    port = free_port()
    env = {**os.environ, "MODELPORT_HOME": str(home[0].resolved_home()), "PORT": str(port)}
    log = (tmp_path / "serve.log").open("wb")
    argv = [sys.executable, "-m", "modelport", "serve", "credit@production", "--no-auth"]
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "not ready on PORT"
            time.sleep(0.1)
        body = {"instances": ROWS.to_dict(orient="records")}
        r = httpx.post(f"http://127.0.0.1:{port}/v1/models/credit@production:predict", json=body)
        assert r.json()["predictions"] == home[1].predict(ROWS).tolist()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
