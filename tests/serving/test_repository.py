"""The model repository in-process: index, load and unload while serving; model config.

Each test builds its own app on the shared registry (loading and unloading change only
what one server serves, never the registry).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings
from tests.serving.conftest import Models


def _client(models: Models, *refs: str, **options: Any) -> TestClient:
    config = ServeConfig(auth=False, refs=refs, poll_interval=0.05, **options)
    return TestClient(create_app(config, settings=models.settings))


def _index(client: TestClient, body: Any = None) -> list[dict[str, str]]:
    r = (
        client.post("/v2/repository/index", json=body)
        if body is not None
        else client.post("/v2/repository/index")
    )
    assert r.status_code == 200, r.text
    entries: list[dict[str, str]] = r.json()
    return entries


def _states(entries: list[dict[str, str]]) -> set[tuple[str, str, str]]:
    return {(e["name"], e["version"], e["state"]) for e in entries}


def test_the_index_lists_served_versions_and_registered_models(models: Models) -> None:
    with _client(models, "numeric@production") as client:
        entries = _index(client)
        assert _states(entries) == {("numeric", "1", "READY"), ("credit", "", "UNAVAILABLE")}
        ready = next(e for e in entries if e["state"] == "READY")
        assert ready["reason"] == "served as numeric@production"
        assert _states(_index(client, {"ready": True})) == {("numeric", "1", "READY")}


def test_load_serves_a_registered_reference_and_unload_stops_it(models: Models) -> None:
    with _client(models, "numeric@production") as client:
        assert client.post("/v2/models/credit/infer", json={"inputs": []}).status_code == 404
        r = client.post("/v2/repository/models/credit/load", content=b"")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "name": "credit",
            "version": "1",
            "state": "READY",
            "reason": "served as credit",
        }
        rows = models.credit_test.head(3).to_dict(orient="records")
        answer = client.post("/v1/models/credit:predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        assert (
            answer.json()["predictions"]
            == models.credit_model.predict(  # type: ignore[attr-defined]
                models.credit_test.head(3)
            ).tolist()
        )
        # an exact version of numeric next to its production pointer
        assert client.post("/v2/repository/models/numeric:2/load").status_code == 200
        assert ("numeric", "2", "READY") in _states(_index(client))
        # loading again changes nothing
        assert client.post("/v2/repository/models/credit/load", json={}).status_code == 200
        r = client.post("/v2/repository/models/credit/unload", json={"parameters": {}})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "UNAVAILABLE" and "credit:1" in r.json()["reason"]
        gone = client.post("/v1/models/credit:predict", json={"instances": rows})
        assert gone.status_code == 404
        assert ("credit", "", "UNAVAILABLE") in _states(_index(client))
        # unloading one version leaves the pointer's
        assert client.post("/v2/repository/models/numeric:2/unload").status_code == 200
        assert _states(_index(client, {"ready": True})) == {("numeric", "1", "READY")}


def test_an_unloaded_model_stays_unloaded_when_the_server_serves_everything(
    models: Models,
) -> None:
    with _client(models) as client:  # no refs: every model and alias, followed
        assert client.post("/v2/repository/models/credit/unload").status_code == 200
        pool = client.app.state.pool  # type: ignore[attr-defined]
        client.portal.call(pool.poll_once)  # type: ignore[union-attr]
        assert not any(name == "credit" for name, _ in pool.router.versions)
        assert client.post("/v2/repository/models/credit@production/load").status_code == 200
        assert (
            client.post("/v1/models/credit@production:predict", json={"instances": []}).status_code
            != 404
        )
        client.portal.call(pool.poll_once)  # type: ignore[union-attr]
        assert ("credit", 1) in pool.router.versions


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/v2/repository/models/nope/load", None, 404, "no model named 'nope'"),
        ("/v2/repository/models/numeric@staging/load", None, 404, "staging"),
        ("/v2/repository/models/numeric:9/load", None, 404, "9"),
        ("/v2/repository/models/bad%20name/load", None, 400, ""),
        ("/v2/repository/models/numeric/load", {"parameters": {"config": "{}"}}, 400, "config"),
        ("/v2/repository/models/numeric/load", {"parameters": {"file:1/m": "eA=="}}, 400, "file:"),
        ("/v2/repository/models/numeric/load", [1], 400, "object"),
        ("/v2/repository/models/numeric/load", {"parameters": 3}, 400, "parameters"),
        ("/v2/repository/models/credit/unload", None, 404, "served models: numeric"),
        ("/v2/repository/models/numeric@staging/unload", None, 404, "staging"),
        ("/v2/repository/models/numeric:2/unload", None, 404, "numeric:1"),
        (
            "/v2/repository/models/numeric/unload",
            {"parameters": {"unload_dependents": "yes"}},
            400,
            "unload_dependents",
        ),
        ("/v2/repository/index", {"ready": "yes"}, 400, "ready"),
        ("/v2/repository/index", "all", 400, "object"),
    ],
)
def test_bad_repository_requests_are_refused_saying_why(
    models: Models, path: str, body: Any, status: int, says: str
) -> None:
    with _client(models, "numeric@production") as client:
        r = client.post(path, json=body) if body is not None else client.post(path)
        assert r.status_code == status, r.text
        assert says in r.json()["error"]
        assert _states(_index(client, {"ready": True})) == {("numeric", "1", "READY")}


def one(batch: np.ndarray) -> np.ndarray:
    return np.full(len(batch), 1.0)


def test_what_a_deployment_routes_to_cannot_be_unloaded(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    for _ in range(2):
        modelport.register(one, "m", sample=sample, settings=settings)
    modelport.set_alias("m:1", "production", settings=settings)
    modelport.deploy("checkout", {"m@production": 90, "m:2": 10}, settings=settings)
    config = ServeConfig(auth=False, deployments=("checkout",), poll_interval=0.05)
    with TestClient(create_app(config, settings=settings)) as client:
        for ref in ("m", "m@production", "m:2", "m:1"):
            r = client.post(f"/v2/repository/models/{ref}/unload")
            assert r.status_code == 409, (ref, r.text)
            assert "checkout" in r.json()["error"]


# -- the model configuration ---------------------------------------------------------------


@pytest.fixture(scope="module")
def served(models: Models) -> Iterator[TestClient]:
    with _client(models, "numeric", "numeric@production", "credit@production") as client:
        yield client


def test_the_config_is_built_from_the_signature(served: TestClient) -> None:
    r = served.get("/v2/models/credit/config")
    assert r.status_code == 200, r.text
    config = r.json()
    assert config["name"] == "credit" and config["backend"] == "modelport"
    assert config["platform"] == served.get("/v2/models/credit").json()["platform"]
    assert config["max_batch_size"] == 100_000  # the rows one request may carry
    assert config["version_policy"] == {"specific": {"versions": [1]}}
    types = {t["name"]: t["data_type"] for t in config["input"]}
    assert types == {
        "age": "TYPE_INT64",
        "income": "TYPE_FP64",
        "home": "TYPE_STRING",
        "purpose": "TYPE_STRING",
    }
    assert all(t["dims"] == [1] and t["reshape"] == {"shape": []} for t in config["input"])
    outputs = {t["name"]: t for t in config["output"]}
    assert outputs["predict"]["data_type"] == "TYPE_INT64"
    assert outputs["predict_proba"]["dims"] == [2]
    batching = config["dynamic_batching"]
    assert batching["max_queue_delay_microseconds"] == 0
    assert batching["default_queue_policy"]["max_queue_size"] == 2048
    assert config["parameters"]["max_requests_per_batch"] == {"string_value": "64"}
    assert config["parameters"]["classes"] == {"string_value": "[0,1]"}


@pytest.mark.parametrize(
    ("url", "version"),
    [
        ("/v2/models/numeric/config", "2"),
        ("/v2/models/numeric/versions/1/config", "1"),
        ("/v2/models/numeric/versions/production/config", "1"),
        ("/v2/models/numeric@production/config", "1"),
    ],
)
def test_each_version_has_its_config(served: TestClient, url: str, version: str) -> None:
    r = served.get(url)
    assert r.status_code == 200, r.text
    assert r.json()["parameters"]["modelport_version"] == {"string_value": version}
    assert r.json()["version_policy"] == {"specific": {"versions": [1, 2]}}


@pytest.mark.parametrize("url", ["/v2/models/nope/config", "/v2/models/numeric/versions/7/config"])
def test_the_config_of_what_is_not_served_is_404(served: TestClient, url: str) -> None:
    assert served.get(url).status_code == 404


def test_kserve_v1_liveness(served: TestClient) -> None:
    r = served.get("/")
    assert r.status_code == 200 and r.json() == {"status": "alive"}


def test_metadata_and_predictions_resolve_a_bare_name_served_once(models: Models) -> None:
    with _client(models, "credit@production") as client:
        rows = models.credit_test.head(2).to_dict(orient="records")
        for url in ("/v1/models/credit:predict", "/v1/models/credit@production:predict"):
            r = client.post(url, json={"instances": rows})
            assert r.status_code == 200 and r.headers["x-model-version"] == "credit:1"
        assert client.get("/v2/models/credit").status_code == 200
        assert client.get("/v2/models/credit/ready").status_code == 200
        assert client.get("/v1/models/credit").status_code == 200


def test_a_bare_name_served_as_several_versions_is_a_404_listing_them(models: Models) -> None:
    with _client(models, "numeric@production", "numeric:2") as client:
        r = client.post("/v1/models/numeric:predict", json={"instances": [[0, 0, 0, 0]]})
        assert r.status_code == 404, r.text
        for ref in ("numeric:1", "numeric:2", "numeric@production"):
            assert ref in r.json()["error"]


def test_load_and_unload_run_one_at_a_time(models: Models) -> None:
    with _client(models, "numeric@production") as client:
        pool = client.app.state.pool  # type: ignore[attr-defined]
        from modelport.reference import parse

        async def both() -> None:
            await asyncio.gather(
                pool.load_ref(parse("credit")), pool.unload_ref(parse("numeric@production"))
            )

        client.portal.call(both)  # type: ignore[union-attr]
        assert _states(_index(client, {"ready": True})) == {("credit", "1", "READY")}
