"""A server's canary judges agreement on paired requests and quality from feedback.

The stable model classifies by the sign of the first feature; the candidate agrees on the
half of the inputs where the second feature is positive and answers the opposite class on
the other half. Both predict each class half of the time, so only agreement (when one arm
answers copies of the other's requests) or labels (feedback) can tell them apart. Latency
never decides here: on a loaded machine it is noise (``max_p99_ratio=None``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

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

THRESHOLDS = CanaryThresholds(
    min_requests=200, min_predictions=200, min_pairs=100, min_labels=100, max_p99_ratio=None
)


def stable(batch: np.ndarray) -> np.ndarray:
    x = np.asarray(batch, dtype=np.float64)
    return (x[:, 0] > 0).astype(np.int64)


def candidate(batch: np.ndarray) -> np.ndarray:
    x = np.asarray(batch, dtype=np.float64)
    return np.where(x[:, 1] > 0, x[:, 0] > 0, x[:, 0] <= 0).astype(np.int64)


stable.classes = [0, 1]  # type: ignore[attr-defined]
candidate.classes = [0, 1]  # type: ignore[attr-defined]


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("quality") / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    modelport.register(stable, "m", sample=sample, settings=settings)
    modelport.register(candidate, "m", sample=sample, settings=settings)
    modelport.set_alias("m:1", "production", settings=settings)
    yield settings


def run(client: TestClient, service: CanaryService, *, labels: bool = False) -> list[str]:
    """Send traffic (and its labels, the stable model's answers) until the canary stops."""
    rng = np.random.default_rng(1)
    pending: list[dict[str, Any]] = []
    answered: list[str] = []
    for _ in range(20_000):  # bounded; the controller judges every 0.2 s
        row = rng.normal(size=2)
        r = client.post("/v1/models/checkout:predict", json={"instances": [row.tolist()]})
        assert r.status_code == 200, r.text
        answered.append(r.headers["x-model-version"])
        if labels:
            truth = int(row[0] > 0)
            pending.append({"prediction_id": r.json()["prediction_ids"][0], "label": truth})
            if len(pending) == 20:  # one feedback request per 20 predictions
                sent = client.post("/api/feedback", json=pending)
                assert sent.status_code == 200 and sent.json()["accepted"] == 20, sent.text
                pending = []
        if service.status("checkout").state.status != "running":
            break
    return answered


def reasons(service: CanaryService) -> list[str]:
    return list(service.status("checkout").verdicts[-1].get("reasons", []))


def test_a_candidate_shadowing_the_stable_arm_is_rolled_back_on_agreement(
    settings: Settings,
) -> None:
    # the candidate also shadows every request; m@next spells it apart from its arm
    modelport.set_alias("m:2", "next", settings=settings)
    modelport.deploy("checkout", {"m@production": 100}, shadows={"m@next": 100}, settings=settings)
    registry = Registry(settings)
    service = CanaryService(registry)
    service.start("checkout", "m:2", (50.0, 100.0), 0.2, thresholds=THRESHOLDS)
    config = ServeConfig(
        auth=False, deployments=("checkout",), poll_interval=0.05, log_sample_rate=0.0
    )
    with TestClient(create_app(config, settings=settings)) as client:
        run(client, service)
    canary = service.status("checkout")
    assert canary.state.status == "rolled_back", canary.verdicts[-3:]
    assert canary.state.step_index == 0  # decided at 50%, before the stable arm shadowed
    assert any(r.startswith("agreement with the stable arm") for r in reasons(service))
    assert canary.verdicts[-1]["checks"]["agreement"]["status"] == "fail"
    registry.close()


def test_at_100_percent_the_stable_shadow_catches_disagreement(settings: Settings) -> None:
    modelport.deploy("checkout", {"m@production": 100}, settings=settings)
    registry = Registry(settings)
    service = CanaryService(registry)
    service.start("checkout", "m:2", (50.0, 100.0), 0.2, thresholds=THRESHOLDS)
    config = ServeConfig(
        auth=False, deployments=("checkout",), poll_interval=0.05, log_sample_rate=0.0
    )
    with TestClient(create_app(config, settings=settings)) as client:
        answered = run(client, service)
    canary = service.status("checkout")
    assert canary.state.status == "rolled_back", canary.verdicts[-3:]
    # the 50% step had no pairs to judge and advanced; at 100% the copies decided
    assert canary.state.step_index == 1
    assert any(r.startswith("agreement with the stable arm") for r in reasons(service))
    assert "m:2" in answered[-20:]
    spec = registry.deployments.get("checkout").spec
    assert {a.ref: a.weight for a in spec.arms} == {"m@production": 100.0, "m:2": 0.0}
    assert spec.shadows == ()  # the rollback took the stable shadow away
    registry.close()


def test_labels_reveal_a_worse_candidate_and_it_is_rolled_back(settings: Settings) -> None:
    modelport.deploy("checkout", {"m@production": 100}, settings=settings)
    registry = Registry(settings)
    service = CanaryService(registry)
    service.start("checkout", "m:2", (50.0, 100.0), 0.2, thresholds=THRESHOLDS)
    config = ServeConfig(
        auth=False, deployments=("checkout",), poll_interval=0.05, log_sample_rate=1.0
    )
    with TestClient(create_app(config, settings=settings)) as client:
        run(client, service, labels=True)
    canary = service.status("checkout")
    assert canary.state.status == "rolled_back", canary.verdicts[-3:]
    quality = canary.verdicts[-1]["checks"]["quality"]
    assert quality["status"] == "fail", quality
    assert any(r.startswith("quality") for r in reasons(service))
    registry.close()
