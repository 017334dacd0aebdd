"""Deployments changed over HTTP: admin only, the key named in the audit trail, bad bodies
refused with nothing stored, and a running server following its own change."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.registry import Registry
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings


def one(batch: np.ndarray) -> np.ndarray:
    return np.full(len(batch), 1.0)


def two(batch: np.ndarray) -> np.ndarray:
    return np.full(len(batch), 2.0)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("admin") / "home", user="server-user")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    for function in (one, two):
        modelport.register(function, "m", sample=sample, settings=settings)
    modelport.deploy("checkout", {"m:1": 100}, settings=settings)
    return settings


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    registry = Registry(settings)
    admin_record, admin = registry.keys.create(["admin"])
    _, read = registry.keys.create(["read"])
    _, predict = registry.keys.create(["predict"])
    registry.close()
    config = ServeConfig(deployments=("checkout",), poll_interval=0.05)
    with TestClient(create_app(config, settings=settings)) as c:
        yield c, {"admin": admin, "read": read, "predict": predict}, admin_record.id


def test_an_admin_key_changes_a_deployment_and_is_named_in_its_history(
    settings: Settings, client: tuple[TestClient, dict[str, str], str]
) -> None:
    c, keys, admin_id = client
    admin = {"X-API-Key": keys["admin"]}
    body = {"arms": [{"ref": "m:1", "weight": 50}, {"ref": "m:2", "weight": 50}], "reason": "ab"}
    r = c.put("/api/deployments/checkout", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert [a["ref"] for a in r.json()["arms"]] == ["m:1", "m:2"]
    created = c.put(
        "/api/deployments/fresh", json={"arms": [{"ref": "m:2", "weight": 1}]}, headers=admin
    )
    assert created.status_code == 201, created.text
    history = c.get("/api/deployments/checkout/history", headers=admin).json()
    assert history[-1]["actor"] == admin_id and history[-1]["reason"] == "ab"
    assert c.delete("/api/deployments/fresh?reason=done", headers=admin).status_code == 200
    assert c.get("/api/deployments/fresh", headers=admin).status_code == 404
    # the server follows its own change: both arms answer
    answered = set()
    predict = {"X-API-Key": keys["predict"]}
    for _ in range(2000):
        r = c.post("/v1/models/checkout:predict", json={"instances": [[0.0, 0.0]]}, headers=predict)
        answered.add(r.headers["x-model-version"])
        if answered == {"m:1", "m:2"}:
            break
    assert answered == {"m:1", "m:2"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"arms": []},
        {"arms": [{"ref": "m:1", "weight": "50"}]},
        {"arms": [{"ref": "m:1", "weight": -1}]},
        {"arms": [{"ref": "m:1", "weight": 1}], "extra": True},
        {"arms": [{"ref": "nope:9", "weight": 1}]},
        {"arms": [{"ref": "../etc", "weight": 1}]},
        {"arms": [{"ref": "m:1", "weight": 1}], "sticky": "cookie:x"},
        {"arms": [{"ref": "m:1", "weight": 1}], "shadows": [{"ref": "m:1", "percent": 50}]},
        [1, 2],
    ],
)
def test_bad_bodies_are_refused_and_nothing_changes(
    settings: Settings, client: tuple[TestClient, dict[str, str], str], body: object
) -> None:
    c, keys, _ = client
    admin = {"X-API-Key": keys["admin"]}
    before = c.get("/api/deployments", headers=admin).json()
    r = c.put("/api/deployments/checkout", json=body, headers=admin)
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()
    assert c.get("/api/deployments", headers=admin).json() == before


def test_only_admin_may_change(client: tuple[TestClient, dict[str, str], str]) -> None:
    c, keys, _ = client
    body = {"arms": [{"ref": "m:1", "weight": 1}]}
    for role in ("read", "predict"):
        r = c.put("/api/deployments/checkout", json=body, headers={"X-API-Key": keys[role]})
        assert r.status_code == 403, (role, r.text)
        assert (
            c.delete("/api/deployments/checkout", headers={"X-API-Key": keys[role]}).status_code
            == 403
        )
    assert c.put("/api/deployments/checkout", json=body).status_code == 401
