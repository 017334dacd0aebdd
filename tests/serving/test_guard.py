"""The guard on a real app: each role against each route, expired and revoked keys, scopes,
rate and concurrency limits, the row cap, the request timeout and what /metrics shows."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.errors import InvalidArgument
from modelport.registry import Registry
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

SLOW = threading.Event()  # the slow model sleeps while this is set


def double(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0] * 2


def slow(batch: np.ndarray) -> np.ndarray:
    if SLOW.is_set():
        time.sleep(5)
    return np.asarray(batch, dtype=np.float64)[:, 0]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("guard") / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    modelport.register(double, "m", sample=sample, settings=settings)
    modelport.register(double, "other", sample=sample, settings=settings)
    modelport.register(slow, "slow", sample=sample, settings=settings)
    return settings


@pytest.fixture(scope="module")
def keys(settings: Settings) -> dict[str, str]:
    registry = Registry(settings)
    made = {role: registry.keys.create([role])[1] for role in ("predict", "feedback", "read")}
    made["admin"] = registry.keys.create(["admin"])[1]
    made["scoped"] = registry.keys.create(["predict"], models=["m"])[1]
    registry.close()
    return made


@pytest.fixture(scope="module")
def client(settings: Settings, keys: dict[str, str]) -> Iterator[TestClient]:
    config = ServeConfig(refs=("m", "other"), poll_interval=0.05)
    with TestClient(create_app(config, settings=settings)) as c:
        yield c


PREDICT = ("POST", "/v1/models/m:predict", {"instances": [[1.0, 2.0]]})
INFER = (
    "POST",
    "/v2/models/m/infer",
    {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]},
)
FEEDBACK = ("POST", "/api/feedback", [{"prediction_id": "nope", "label": 1}])
ROUTES = {
    "v1 predict": PREDICT,
    "v2 infer": INFER,
    "feedback": FEEDBACK,
    "v2 metadata": ("GET", "/v2/models/m", None),
    "server metadata": ("GET", "/v2", None),
    "metrics": ("GET", "/metrics", None),
    "deployments": ("GET", "/api/deployments", None),
    "openapi": ("GET", "/openapi.json", None),
}
#: which roles may use which route (admin: all)
ALLOWED = {
    "v1 predict": {"predict", "admin", "scoped"},
    "v2 infer": {"predict", "admin", "scoped"},
    "feedback": {"feedback", "admin"},
    "v2 metadata": {"read", "admin"},
    "server metadata": {"read", "admin"},
    "metrics": {"read", "admin"},
    "deployments": {"read", "admin"},
    "openapi": {"read", "admin"},
}


def _call(c: TestClient, route: str, headers: dict[str, str]) -> int:
    method, path, body = ROUTES[route]
    return c.request(method, path, json=body, headers=headers).status_code


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("holder", ["predict", "feedback", "read", "admin", "scoped"])
def test_each_role_against_each_route(
    client: TestClient, keys: dict[str, str], route: str, holder: str
) -> None:
    status = _call(client, route, {"Authorization": f"Bearer {keys[holder]}"})
    if holder in ALLOWED[route]:
        assert status not in (401, 403), (holder, route, status)
        assert status < 500
    else:
        assert status == 403, (holder, route, status)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_no_or_bad_credentials_are_401_with_one_message(client: TestClient, route: str) -> None:
    answers = []
    for headers in (
        {},
        {"Authorization": "Bearer mpk_0123456789ab_" + "x" * 43},  # unknown id
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        method, path, body = ROUTES[route]
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        answers.append(r.json()["code"])
    assert set(answers) == {"unauthenticated"}


def test_a_wrong_secret_for_a_real_key_id_is_refused_like_an_unknown_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    real = keys["predict"]
    forged = real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb")
    r = client.post(PREDICT[1], json=PREDICT[2], headers={"X-API-Key": forged})
    unknown = client.post(
        PREDICT[1], json=PREDICT[2], headers={"X-API-Key": "mpk_ffffffffffff_" + "y" * 43}
    )
    assert r.status_code == unknown.status_code == 401
    assert r.json() == unknown.json()  # no hint whether the id exists


def test_health_is_public_and_a_scoped_key_reaches_only_its_model(
    client: TestClient, keys: dict[str, str]
) -> None:
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    scoped = {"X-API-Key": keys["scoped"]}
    assert client.post(PREDICT[1], json=PREDICT[2], headers=scoped).status_code == 200
    r = client.post("/v1/models/other:predict", json=PREDICT[2], headers=scoped)
    assert r.status_code == 403
    assert "other" in r.json()["error"]


def test_revoked_and_expired_keys_stop_working(settings: Settings, client: TestClient) -> None:
    registry = Registry(settings)
    key_record, key = registry.keys.create(["predict"])
    headers = {"X-API-Key": key}
    for _ in range(200):  # the server follows new keys at once (a refresh on a miss)
        if client.post(PREDICT[1], json=PREDICT[2], headers=headers).status_code == 200:
            break
    assert client.post(PREDICT[1], json=PREDICT[2], headers=headers).status_code == 200
    registry.keys.revoke(key_record.id, reason="test")
    statuses = []
    for _ in range(2000):  # revocation is followed within the poll interval
        statuses.append(client.post(PREDICT[1], json=PREDICT[2], headers=headers).status_code)
        if statuses[-1] == 401:
            break
        time.sleep(0.01)
    assert statuses[-1] == 401
    # expiry: a key that expires in a moment, checked per request (no poll needed)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    _, short = registry.keys.create(["predict"], expires_at=soon)
    registry.close()
    first = client.post(PREDICT[1], json=PREDICT[2], headers={"X-API-Key": short})
    assert first.status_code in (200, 401)  # 401 if the machine was slower than a second
    while datetime.now(UTC) <= soon:
        time.sleep(0.05)
    late = client.post(PREDICT[1], json=PREDICT[2], headers={"X-API-Key": short})
    assert late.status_code == 401


def test_refusals_reach_the_audit_trail_and_metrics_without_the_secret(
    settings: Settings, client: TestClient, keys: dict[str, str]
) -> None:
    secret = "mpk_abcdefabcdef_" + "s" * 43
    for _ in range(3):
        client.post(PREDICT[1], json=PREDICT[2], headers={"X-API-Key": secret})
    client.post(FEEDBACK[1], json=FEEDBACK[2], headers={"X-API-Key": keys["predict"]})
    registry = Registry(settings)
    try:
        for _ in range(500):  # flushed by the server's poll
            events = registry.audit.list(limit=1000)
            actions = {e.action for e in events}
            if {"auth.refused", "auth.forbidden"} <= actions:
                break
            time.sleep(0.02)
        assert {"auth.refused", "auth.forbidden"} <= actions
        text = repr([e.summary() for e in events])
        assert "s" * 43 not in text
        secret_part = keys["predict"].split("_", 2)[2]  # the whole secret: it may hold "_"
        assert secret_part not in text
    finally:
        registry.close()
    metrics = client.get("/metrics", headers={"X-API-Key": keys["read"]}).text
    assert 'modelport_auth_refused_total{reason="forbidden"}' in metrics
    assert "modelport_limit" in metrics


def test_a_burst_past_the_rate_limit_is_429_and_recovers(
    settings: Settings, keys: dict[str, str]
) -> None:
    config = ServeConfig(refs=("m",), rate_limit="2/s,burst=5", poll_interval=0.05)
    headers = {"X-API-Key": keys["predict"]}
    with TestClient(create_app(config, settings=settings)) as c:
        statuses = [c.post(PREDICT[1], json=PREDICT[2], headers=headers) for _ in range(12)]
        codes = [r.status_code for r in statuses]
        assert codes[:5] == [200] * 5  # the burst
        assert 429 in codes[5:]
        limited = next(r for r in statuses if r.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["code"] == "rate_limited"
        # another key has its own bucket
        other = {"X-API-Key": keys["admin"]}
        assert c.post(PREDICT[1], json=PREDICT[2], headers=other).status_code == 200
        for _ in range(1000):  # recovers once tokens refill (2 per second)
            if c.post(PREDICT[1], json=PREDICT[2], headers=headers).status_code == 200:
                break
            time.sleep(0.05)
        assert c.post(PREDICT[1], json=PREDICT[2], headers=headers).status_code in (200, 429)
        metrics = c.get("/metrics", headers=other).text
        assert 'modelport_rate_limited_total{limit="rate"}' in metrics


def test_too_many_rows_is_413_and_a_slow_answer_is_504(
    settings: Settings, keys: dict[str, str]
) -> None:
    config = ServeConfig(refs=("m", "slow"), max_rows=3, request_timeout=0.5)
    headers = {"X-API-Key": keys["predict"]}
    with TestClient(create_app(config, settings=settings)) as c:
        r = c.post(PREDICT[1], json={"instances": [[1.0, 2.0]] * 4}, headers=headers)
        assert r.status_code == 413
        assert "at most 3" in r.json()["error"]
        assert c.post(PREDICT[1], json={"instances": [[1.0, 2.0]] * 3}, headers=headers).is_success
        SLOW.set()
        try:
            r = c.post("/v1/models/slow:predict", json=PREDICT[2], headers=headers)
        finally:
            SLOW.clear()
        assert r.status_code == 504
        assert r.json()["code"] == "request_timeout"
        # the deadline is the request's: the server itself outlives many timeouts
        time.sleep(1.5)
        assert c.get("/v2/health/ready").status_code == 200
        assert c.post(PREDICT[1], json=PREDICT[2], headers=headers).status_code == 200


def test_serving_a_public_address_without_auth_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="without authentication") as info:
        ServeConfig(host="0.0.0.0", auth=False)
    assert "modelport keys create" in (info.value.hint or "")
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert ServeConfig(host=host, auth=False).auth is False
    assert ServeConfig(host="0.0.0.0").auth is True  # with auth: fine
    with pytest.raises(InvalidArgument, match="go together"):
        ServeConfig(tls_cert="c.pem")
    with pytest.raises(InvalidArgument):
        ServeConfig(rate_limit="fast")


def test_docs_need_a_key_unless_public_docs(settings: Settings, keys: dict[str, str]) -> None:
    with TestClient(create_app(ServeConfig(refs=("m",)), settings=settings)) as c:
        assert c.get("/docs").status_code == 401
        assert c.get("/openapi.json").status_code == 401
        assert c.get("/docs", headers={"X-API-Key": keys["read"]}).status_code == 200
    config = ServeConfig(refs=("m",), public_docs=True, public_metrics=True)
    with TestClient(create_app(config, settings=settings)) as c:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert c.get(path).status_code == 200, path
        assert c.post(PREDICT[1], json=PREDICT[2]).status_code == 401  # the rest stays guarded
        assert c.get("/v2/models/m").status_code == 401
