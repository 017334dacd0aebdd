"""The canary workflow: start, judge steps, roll back on worse evidence, promote on good."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.deployments.canary import ArmWindow, CanaryThresholds, PairedWindow
from modelport.errors import ConflictError, ModelNotFound
from modelport.monitoring.actions import AlertJournal
from modelport.registry import Registry
from modelport.services.canary import CanaryService
from modelport.settings import Settings

STEPS = (5.0, 25.0, 50.0, 100.0)


@pytest.fixture
def service(tmp_path: Path) -> CanaryService:
    settings = Settings(home=tmp_path / "home", user="release-bot")
    X = np.random.default_rng(0).normal(size=(60, 3))
    for c in (1.0, 0.1):
        model = LogisticRegression(C=c).fit(X, (X[:, 0] > 0).astype(int))
        modelport.register(model, "m", sample=X, settings=settings)
    modelport.set_alias("m:1", "production", settings=settings)
    modelport.deploy("checkout", {"m@production": 100}, settings=settings)
    return CanaryService(Registry(settings))


def window(errors: int, *, seed: int, scale: float = 1.0, shift: int = 0) -> ArmWindow:
    rng = np.random.default_rng(seed)
    return ArmWindow(
        requests=2000,
        errors=errors,
        rejected=0,
        latencies_ms=rng.gamma(4.0, 1.0, 2000) * scale,
        prediction_counts=np.array([1000 - shift, 1000 + shift]),
    )


def weights(service: CanaryService) -> dict[str, float]:
    spec = service.registry.deployments.get("checkout").spec
    return {arm.ref: arm.weight for arm in spec.arms}


def test_a_worse_error_rate_rolls_back_and_fires_an_alert(service: CanaryService) -> None:
    canary = service.start("checkout", "m:2", STEPS, 60)
    assert canary.state.status == "running"
    assert weights(service) == {"m@production": 95.0, "m:2": 5.0}
    rolled = service.judge("checkout", window(10, seed=1), window(100, seed=2))
    assert rolled.state.status == "rolled_back"
    assert weights(service) == {"m@production": 100.0, "m:2": 0.0}
    assert any("error" in reason for reason in rolled.verdicts[-1]["reasons"])
    journal = AlertJournal(service.registry.settings.alert_journal_path()).entries()
    assert [(e["rule"], e["model"]) for e in journal] == [("canary", "checkout")]
    history = service.registry.deployments.history("checkout")
    assert "rollback" in (history[-1].reason or "")


@pytest.mark.parametrize(
    ("candidate", "check"),
    [(window(10, seed=3, scale=2.0), "latency"), (window(10, seed=4, shift=600), "shift")],
)
def test_latency_and_output_shift_regressions_roll_back(
    service: CanaryService, candidate: ArmWindow, check: str
) -> None:
    service.start("checkout", "m:2", STEPS, 60)
    rolled = service.judge("checkout", window(10, seed=5), candidate)
    assert rolled.state.status == "rolled_back", rolled.verdicts[-1]
    assert any(check in reason for reason in rolled.verdicts[-1]["reasons"])


def test_a_good_candidate_is_promoted_step_by_step(service: CanaryService) -> None:
    service.start("checkout", "m:2", STEPS, 60)
    seen = []
    for step in range(len(STEPS)):
        canary = service.judge("checkout", window(10, seed=10 + step), window(10, seed=20 + step))
        seen.append((canary.state.status, weights(service).get("m:2")))
    assert [status for status, _ in seen] == ["running", "running", "running", "promoted"]
    assert [w for _, w in seen[:3]] == [25.0, 50.0, 100.0]
    # promoted: production now points at the candidate, which takes all the traffic
    assert service.registry.resolve("m@production").version == 2
    assert weights(service) == {"m@production": 100.0}


def test_too_little_traffic_waits_and_changes_nothing(service: CanaryService) -> None:
    service.start("checkout", "m:2", STEPS, 60)
    few = ArmWindow(requests=10, errors=1)
    canary = service.judge("checkout", ArmWindow(requests=10), few)  # one 5xx in ten
    assert canary.state.status == "running" and canary.state.step_index == 0
    assert canary.verdicts[-1]["verdict"] == "wait"
    assert weights(service) == {"m@production": 95.0, "m:2": 5.0}


def test_one_canary_at_a_time_and_bad_starts_store_nothing(service: CanaryService) -> None:
    service.start("checkout", "m:2", STEPS, 60, thresholds=CanaryThresholds(min_requests=50))
    with pytest.raises(ConflictError, match="already has a canary"):
        service.start("checkout", "m:2", STEPS, 60)
    service.command("checkout", "abort")
    assert weights(service) == {"m@production": 100.0, "m:2": 0.0}
    before = service.registry.deployments.get("checkout").revision
    with pytest.raises(ModelNotFound):
        service.start("checkout", "nope:1", STEPS, 60)
    assert service.status("checkout").state.status == "aborted"
    assert service.registry.deployments.get("checkout").revision == before


def shadows(service: CanaryService) -> dict[str, float]:
    spec = service.registry.deployments.get("checkout").spec
    return {shadow.ref: shadow.percent for shadow in spec.shadows}


def test_at_100_percent_the_stable_arm_shadows_every_request(service: CanaryService) -> None:
    service.start("checkout", "m:2", (50.0, 100.0), 60)
    assert shadows(service) == {}
    service.judge("checkout", window(10, seed=1), window(10, seed=2))
    # the stable arm answers nothing now, but sees a copy of every request
    assert weights(service) == {"m:2": 100.0}
    assert shadows(service) == {"m@production": 100.0}
    service.command("checkout", "abort")
    assert weights(service) == {"m@production": 100.0, "m:2": 0.0}
    assert shadows(service) == {}


def test_a_promotion_drops_the_stable_shadow(service: CanaryService) -> None:
    service.start("checkout", "m:2", (50.0, 100.0), 60)
    service.judge("checkout", window(10, seed=1), window(10, seed=2))
    canary = service.judge("checkout", window(10, seed=3), window(10, seed=4))
    assert canary.state.status == "promoted", canary.verdicts[-1]
    assert weights(service) == {"m@production": 100.0} and shadows(service) == {}


def test_disagreement_on_paired_requests_rolls_back(service: CanaryService) -> None:
    service.start("checkout", "m:2", STEPS, 60)
    rolled = service.judge(
        "checkout", window(10, seed=1), window(10, seed=2), PairedWindow(pairs=400, agreeing=200)
    )
    assert rolled.state.status == "rolled_back"
    assert any("agreement" in reason for reason in rolled.verdicts[-1]["reasons"])
