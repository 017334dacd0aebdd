"""Inference statistics: the running totals per served version, in Triton's shape."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from modelport.runtime.statistics import VersionStatistics, model_stats
from modelport.serving import ServeConfig, create_app
from tests.serving.conftest import Models


def test_answered_requests_count_as_success_or_fail_with_their_duration() -> None:
    stats = VersionStatistics()
    stats.answered(True, 0.002)
    stats.answered(True, 0.001)
    stats.answered(False, 0.0005)
    assert (stats.success.count, stats.success.ns) == (2, 3_000_000)
    assert (stats.fail.count, stats.fail.ns) == (1, 500_000)
    assert stats.last_inference > 0


def test_a_batch_charges_each_of_its_requests_its_compute_times() -> None:
    stats = VersionStatistics()
    # two requests queued at t=1.0 and t=1.5; the batch starts at 2.0, assembles until 2.1,
    # predicts until 2.4 and splits until 2.5
    stats.executed(
        rows=7, queued=[1.0, 1.5], started=2.0, assembled=2.1, inferred=2.4, finished=2.5
    )
    assert (stats.execution_count, stats.inference_count) == (1, 7)
    assert stats.queue.count == 2 and stats.queue.ns == pytest.approx(1.5e9, rel=1e-6)
    assert stats.compute_input.count == 2 and stats.compute_input.ns == pytest.approx(0.2e9, 1e-6)
    assert stats.compute_infer.ns == pytest.approx(0.6e9, rel=1e-6)
    assert stats.compute_output.ns == pytest.approx(0.2e9, rel=1e-6)


def test_the_entry_has_triton_s_shape() -> None:
    entry = model_stats("m", 3, VersionStatistics())
    assert entry["name"] == "m" and entry["version"] == "3"
    assert set(entry["inference_stats"]) >= {"success", "fail", "queue", "compute_infer"}
    assert all(v == {"count": 0, "ns": 0} for v in entry["inference_stats"].values())


@pytest.fixture(scope="module")
def client(models: Models) -> Iterator[TestClient]:
    config = ServeConfig(auth=False, refs=("numeric", "numeric@production", "credit"))
    with TestClient(create_app(config, settings=models.settings)) as c:
        yield c


def _entries(client: TestClient, url: str) -> dict[tuple[str, str], dict[str, Any]]:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return {(e["name"], e["version"]): e for e in r.json()["model_stats"]}


def test_requests_are_counted_per_version(client: TestClient, models: Models) -> None:
    before = _entries(client, "/v2/models/stats")
    assert set(before) == {("numeric", "1"), ("numeric", "2"), ("credit", "1")}
    rows = models.X[:3].tolist()
    for _ in range(2):
        assert (
            client.post("/v1/models/numeric:predict", json={"instances": rows}).status_code == 200
        )
    ok = client.post("/v1/models/numeric@production:predict", json={"instances": rows[:1]})
    assert ok.status_code == 200
    after = _entries(client, "/v2/models/stats")
    latest, production = after[("numeric", "2")], after[("numeric", "1")]
    old = before[("numeric", "2")]
    assert latest["inference_count"] - old["inference_count"] == 6  # rows, not requests
    assert (
        latest["inference_stats"]["success"]["count"] - old["inference_stats"]["success"]["count"]
        == 2
    )
    assert latest["execution_count"] > old["execution_count"]
    assert latest["inference_stats"]["success"]["ns"] > old["inference_stats"]["success"]["ns"]
    assert latest["last_inference"] > 0
    assert production["inference_count"] - before[("numeric", "1")]["inference_count"] == 1
    assert after[("credit", "1")] == before[("credit", "1")]  # not asked, not changed


def test_input_refused_before_the_model_is_not_an_inference(client: TestClient) -> None:
    # a 422 from the signature never reaches the model: Triton's fail counts model failures
    before = _entries(client, "/v2/models/credit/stats")[("credit", "1")]
    r = client.post("/v1/models/credit:predict", json={"instances": [{"age": "x"}]})
    assert r.status_code == 422
    after = _entries(client, "/v2/models/credit/stats")[("credit", "1")]
    assert after["inference_stats"]["fail"] == before["inference_stats"]["fail"]


@pytest.mark.parametrize(
    ("url", "keys"),
    [
        ("/v2/models/numeric/stats", {("numeric", "1"), ("numeric", "2")}),
        ("/v2/models/numeric@production/stats", {("numeric", "1")}),
        ("/v2/models/numeric%3A2/stats", {("numeric", "2")}),
        ("/v2/models/numeric/versions/1/stats", {("numeric", "1")}),
        ("/v2/models/numeric/versions/production/stats", {("numeric", "1")}),
        ("/v2/models/credit/stats", {("credit", "1")}),
    ],
)
def test_a_model_or_version_asks_for_its_own(
    client: TestClient, url: str, keys: set[tuple[str, str]]
) -> None:
    assert set(_entries(client, url)) == keys


@pytest.mark.parametrize(
    "url",
    ["/v2/models/nope/stats", "/v2/models/numeric/versions/9/stats", "/v2/models/credit@x/stats"],
)
def test_what_is_not_served_is_a_404_naming_what_is(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404, r.text
    assert "numeric" in r.json()["error"] or "credit" in r.json()["error"]
