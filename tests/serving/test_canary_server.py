"""A server runs a deployment's canary by itself: a failing candidate is rolled back."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.deployments.canary import CanaryThresholds
from modelport.registry import Registry
from modelport.services.canary import CanaryService
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings

BROKEN = {"on": False}  # the candidate fails once serving starts (registration runs it)


def stable(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0]


def candidate(batch: np.ndarray) -> np.ndarray:
    if BROKEN["on"]:
        raise RuntimeError("the candidate is broken")
    return np.asarray(batch, dtype=np.float64)[:, 0]


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("canary") / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    modelport.register(stable, "m", sample=sample, settings=settings)
    modelport.register(candidate, "m", sample=sample, settings=settings)
    modelport.set_alias("m:1", "production", settings=settings)
    modelport.deploy("checkout", {"m@production": 100}, settings=settings)
    yield settings
    BROKEN["on"] = False


def test_the_server_rolls_a_failing_candidate_back(settings: Settings) -> None:
    registry = Registry(settings)
    service = CanaryService(registry)
    thresholds = CanaryThresholds(min_requests=30, min_latency_samples=20, min_predictions=20)
    # 50% at the first step so the candidate quickly has its minimum of requests
    service.start("checkout", "m:2", (50.0, 100.0), 0.2, thresholds=thresholds)
    config = ServeConfig(auth=False, deployments=("checkout",), poll_interval=0.05)
    with TestClient(create_app(config, settings=settings), raise_server_exceptions=False) as c:
        BROKEN["on"] = True
        statuses = []
        for _ in range(20_000):  # bounded; the controller judges every 0.2 s
            r = c.post("/v1/models/checkout:predict", json={"instances": [[1.0, 2.0]]})
            statuses.append(r.status_code)
            if service.status("checkout").state.status != "running":
                break
        canary = service.status("checkout")
        assert canary.state.status == "rolled_back", canary.verdicts[-3:]
        assert 500 in statuses  # the candidate did fail before it was rolled back
        spec = registry.deployments.get("checkout").spec
        assert {a.ref: a.weight for a in spec.arms} == {"m@production": 100.0, "m:2": 0.0}
        # and the server follows: every request now goes to the stable arm
        after = []
        for _ in range(20_000):
            r = c.post("/v1/models/checkout:predict", json={"instances": [[1.0, 2.0]]})
            after.append((r.status_code, r.headers.get("x-model-version")))
            if after[-30:] == [(200, "m:1")] * 30:
                break
        assert after[-30:] == [(200, "m:1")] * 30
        # and /metrics says so, for dashboards and the ModelportCanaryRolledBack alert
        rolled_back = 'modelport_canary_status{deployment="checkout",status="rolled_back"} 1.0'
        for _ in range(2000):  # bounded; the controller exports on every poll (0.05 s)
            text = c.get("/metrics").text
            if rolled_back in text:
                break
        assert rolled_back in text
        assert 'modelport_canary_status{deployment="checkout",status="running"} 0.0' in text
        assert (
            'modelport_canary_candidate_percent{candidate="m:2",deployment="checkout",'
            'stable="m@production"} 0.0' in text
        )
    registry.close()


def test_the_server_promotes_a_good_candidate(settings: Settings) -> None:
    registry = Registry(settings)
    service = CanaryService(registry)
    # Latency is off: on a loaded machine one stall makes a p99 of a few hundred samples
    # anything (the check's statistics are tested without a server, in tests/deployments).
    # 300 predictions per arm: the stable arm's window at 100% is the 50% step's, and PSI over
    # ten bins is biased by about 9 * (1/n + 1/n) from sampling alone (0.6 at n = 30)
    thresholds = CanaryThresholds(
        min_requests=300, min_latency_samples=30, min_predictions=300, max_p99_ratio=None
    )
    service.start("checkout", "m:2", (50.0, 100.0), 0.2, thresholds=thresholds)
    config = ServeConfig(auth=False, deployments=("checkout",), poll_interval=0.05)
    rng = np.random.default_rng(1)
    with TestClient(create_app(config, settings=settings)) as c:
        for _ in range(20_000):  # bounded; two steps of 0.2 s each
            row = rng.normal(size=2).tolist()
            assert (
                c.post("/v1/models/checkout:predict", json={"instances": [row]}).status_code == 200
            )
            if service.status("checkout").state.status != "running":
                break
    canary = service.status("checkout")
    assert canary.state.status == "promoted", canary.verdicts[-3:]
    assert registry.resolve("m@production").version == 2  # the alias moved to the candidate
    registry.close()
