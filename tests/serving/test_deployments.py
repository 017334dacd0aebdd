"""Deployments served: weighted and sticky arms, shadows off the answer, changes followed.

Toy models that answer a constant (their version) make every routing decision visible in
the response; the shadow waits on a gate or raises on demand, so its latency and failures
are tested without clocks.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.predictions.reader import PredictionLogReader
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

#: the shadow waits for this (open while it is registered and warmed)
GATE = threading.Event()
GATE.set()
#: the shadow raises while this is set
FAIL = threading.Event()
BODY = {"instances": [[0.5, 1.0]]}


def one(batch: np.ndarray) -> np.ndarray:
    return np.full(len(batch), 1.0)


def two(batch: np.ndarray) -> np.ndarray:
    return np.full(len(batch), 2.0)


def shadow(batch: np.ndarray) -> np.ndarray:
    if FAIL.is_set():
        raise RuntimeError("the shadow fails")
    if not GATE.wait(timeout=120):
        raise TimeoutError("the gate was never opened")
    return np.full(len(batch), 3.0)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("deploy") / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    for function in (one, two, shadow):
        modelport.register(function, "m", sample=sample, settings=settings)
    modelport.set_alias("m:1", "production", settings=settings)
    modelport.deploy(
        "checkout",
        {"m@production": 90, "m:2": 10},
        sticky="header:X-User-Id",
        shadows={"m:3": 100},
        settings=settings,
    )
    return settings


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    config = ServeConfig(auth=False, refs=("m:1",), deployments=("checkout",), poll_interval=0.05)
    with TestClient(create_app(config, settings=settings)) as c:
        yield c


def answer(client: TestClient, headers: dict[str, str] | None = None) -> tuple[float, str]:
    r = client.post("/v1/models/checkout:predict", json=BODY, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()["predictions"][0], r.headers["x-model-version"]


def test_unkeyed_requests_split_by_weight_and_say_who_answered(client: TestClient) -> None:
    answers = [answer(client) for _ in range(2000)]
    assert {(v, h) for v, h in answers} <= {(1.0, "m:1"), (2.0, "m:2")}
    low, high = stats.binom.interval(0.999, 2000, 0.1)
    assert low <= sum(v == 2.0 for v, _ in answers) <= high


def test_a_sticky_key_always_gets_its_arm(client: TestClient) -> None:
    for user in range(40):
        headers = {"X-User-Id": f"user-{user}"}
        first = answer(client, headers)
        assert all(answer(client, headers) == first for _ in range(5))


def test_a_direct_reference_says_its_version_too(client: TestClient) -> None:
    r = client.post("/v1/models/m:1:predict", json=BODY)
    assert r.headers["x-model-version"] == "m:1" and r.json()["predictions"] == [1.0]
    r = client.post(
        "/v2/models/checkout/infer",
        json={"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [0, 1]}]},
        headers={"X-User-Id": "user-1"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] == f"m:{r.json()['model_version']}"


def test_a_slow_or_failing_shadow_never_touches_the_answer(client: TestClient) -> None:
    GATE.clear()  # the shadow now blocks: answers must still come back
    try:
        assert all(answer(client)[0] in (1.0, 2.0) for _ in range(20))
    finally:
        GATE.set()
    FAIL.set()
    try:
        assert all(answer(client)[0] in (1.0, 2.0) for _ in range(20))
    finally:
        FAIL.clear()


def test_a_changed_deployment_is_followed_without_a_failed_request(
    client: TestClient, settings: Settings
) -> None:
    modelport.deploy("checkout", {"m:2": 1}, settings=settings, reason="all to 2")
    seen: list[float] = []
    for _ in range(20_000):  # bounded: the follower polls every 50 ms
        value, _ = answer(client)  # asserts 200 on every request, during the change too
        seen.append(value)
        if seen[-20:] == [2.0] * 20:
            break
    assert seen[-20:] == [2.0] * 20
    modelport.deploy(
        "checkout",
        {"m@production": 90, "m:2": 10},
        sticky="header:X-User-Id",
        shadows={"m:3": 100},
        settings=settings,
    )


def test_arms_and_shadows_are_logged_under_the_deployment(settings: Settings) -> None:
    # a fresh server so that its log is flushed when it stops
    config = ServeConfig(auth=False, deployments=("checkout",), log_flush_interval=0.05)
    with TestClient(create_app(config, settings=settings)) as c:
        for user in range(10):
            answer(c, {"X-User-Id": f"u{user}"})
    reader = PredictionLogReader(settings.resolved_log_uri())
    rows = reader.predictions("m")
    arms = rows[rows["deployment"] == "checkout"]
    shadows = rows[rows["deployment"] == "checkout/shadow"]
    assert len(arms) >= 10 and set(arms["version"]) <= {1, 2}
    assert set(arms["key"].dropna()) >= {f"u{i}" for i in range(10)}
    assert len(shadows) >= 1 and set(shadows["version"]) == {3}


def test_the_experiment_report_reads_the_arms_from_the_log(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traffic through a two-arm deployment with feedback, then `experiment report --json`."""
    from typer.testing import CliRunner

    from modelport.cli import app

    config = ServeConfig(auth=False, deployments=("checkout",), log_flush_interval=0.05)
    with TestClient(create_app(config, settings=settings)) as c:
        feedback = []
        for user in range(300):
            r = c.post("/v1/models/checkout:predict", json=BODY, headers={"X-User-Id": f"ab{user}"})
            value = r.json()["predictions"][0]
            # arm 1 answers 1.0 and is "right" for even users; arm 2 answers 2.0
            label = value if user % 2 == 0 else 5.0
            feedback.append({"prediction_id": r.json()["prediction_ids"][0], "label": label})
        assert c.post("/api/feedback", json=feedback).status_code == 200, feedback[:2]
    monkeypatch.setenv("MODELPORT_HOME", str(settings.resolved_home()))
    result = CliRunner().invoke(app, ["experiment", "report", "checkout", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    refs = [arm["ref"] for arm in report["arms"]]
    assert refs == ["m:1", "m:2"]
    assert sum(arm["requests"] for arm in report["arms"]) >= 300
    assert 0.0 <= report["srm_p_value"] <= 1.0
    assert report["verdict"] in {"winner", "loser", "inconclusive", "invalid"}


def test_prometheus_counts_requests_per_deployment_arm_and_shadow(client: TestClient) -> None:
    for _ in range(30):
        answer(client)
    text = client.get("/metrics").text
    assert (
        'modelport_deployment_requests_total{arm="m:1",deployment="checkout",status="200"}' in text
    )
    assert (
        'modelport_deployment_request_duration_seconds_count{arm="m:1",deployment="checkout"}'
        in text
    )
    assert (
        'modelport_shadow_requests_total{deployment="checkout",outcome="ok",shadow="m:3"}' in text
    )


def test_a_deployment_is_described_and_ready_like_a_model(client: TestClient) -> None:
    meta = client.get("/v2/models/checkout")
    assert meta.status_code == 200, meta.text
    assert meta.json()["name"] == "checkout"
    assert [i["name"] for i in meta.json()["inputs"]] == ["f0", "f1"]  # the control arm's
    ready = client.get("/v2/models/checkout/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_the_deployments_are_listed(client: TestClient) -> None:
    listed = client.get("/api/deployments").json()
    assert [d["name"] for d in listed] == ["checkout"]
    shown = client.get("/api/deployments/checkout").json()
    assert shown["sticky"] == "header:X-User-Id" and shown["revision"] >= 1
    assert client.get("/api/deployments/checkout/history").json()[0]["action"] == "create"
    missing = client.get("/api/deployments/nope")
    assert missing.status_code == 404 and "no deployment named 'nope'" in missing.json()["error"]
    # changes over HTTP are tests/serving/test_admin_routes.py's; a bad body changes nothing
    assert client.put("/api/deployments/checkout", json={}).status_code == 422
    assert "/api/deployments/{name}" in client.get("/openapi.json").json()["paths"]


def test_a_field_sticky_key_pins_records_to_an_arm(settings: Settings) -> None:
    modelport.deploy("by-field", {"m:1": 50, "m:2": 50}, sticky="field:f0", settings=settings)
    config = ServeConfig(auth=False, deployments=("by-field",))
    with TestClient(create_app(config, settings=settings)) as c:
        arms = set()
        for key in range(20):
            seen = {
                c.post(
                    "/v1/models/by-field:predict", json={"instances": [{"f0": key, "f1": 0.0}]}
                ).headers["x-model-version"]
                for _ in range(5)
            }
            assert len(seen) == 1  # one key, one arm
            arms |= seen
        assert arms == {"m:1", "m:2"}  # and the keys are spread over both arms


def test_a_refused_request_says_which_version_refused_it(client: TestClient) -> None:
    r = client.post("/v1/models/m:1:predict", json={"instances": [[1.0]]})
    assert r.status_code == 422 and r.headers["x-model-version"] == "m:1"


@pytest.mark.parametrize(
    "headers",
    [{"X-User-Id": "x" * 8000}, {"X-User-Id": "ü\u00ff"}, {"X-User-Id": ""}, {}],
)
def test_hostile_or_missing_sticky_keys_still_get_an_answer(
    client: TestClient, headers: dict[str, str]
) -> None:
    encoded = {k: v.encode("latin-1") for k, v in headers.items()}
    r = client.post("/v1/models/checkout:predict", json=BODY, headers=encoded)  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] in {"m:1", "m:2"}


def test_a_field_sticky_key_of_any_json_type_is_harmless(settings: Settings) -> None:
    modelport.deploy("odd-field", {"m:1": 1, "m:2": 1}, sticky="field:f0", settings=settings)
    with TestClient(
        create_app(ServeConfig(auth=False, deployments=("odd-field",)), settings=settings)
    ) as c:
        for value in ([1, 2], {"a": 1}, None, True, "text", 1e308):
            r = c.post("/v1/models/odd-field:predict", json={"instances": [{"f0": value, "f1": 0}]})
            assert r.status_code in (200, 422), r.text  # refused by validation, never a 500
