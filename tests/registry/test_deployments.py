"""Deployments in the registry: stored with a revision, audited, refused when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.deployments.spec import Arm, DeploymentSpec, Shadow, parse_sticky
from modelport.errors import (
    AliasNotFound,
    ConflictError,
    DeploymentNotFound,
    ModelNotFound,
    VersionNotFound,
)
from modelport.registry import Registry
from tests.registry.test_store import add


def _spec(name: str = "checkout", **kw: object) -> DeploymentSpec:
    arms = kw.pop("arms", (Arm("churn@production", 90), Arm("churn:2", 10)))
    return DeploymentSpec(name, arms, **kw)  # type: ignore[arg-type]


@pytest.fixture
def churn(registry: Registry, tmp_path: Path) -> Registry:
    for i in range(3):
        add(registry, tmp_path, content=f"v{i}")
    registry.set_alias("churn:1", "production")
    return registry


def test_create_show_change_remove_with_a_full_history(churn: Registry) -> None:
    store = churn.deployments
    created = store.create(_spec(), reason="launch")
    assert created.revision == 1 and store.get("checkout").spec == _spec()
    changed = _spec(
        arms=(Arm("churn@production", 50), Arm("churn:2", 50)),
        sticky=parse_sticky("header:X-User-Id"),
        shadows=(Shadow("churn:3", 25),),
    )
    assert store.set(changed, reason="half").revision == 2
    assert store.get("checkout").spec == changed
    assert [d.name for d in store.all()] == ["checkout"]
    store.remove("checkout", reason="done")
    assert store.find("checkout") is None
    with pytest.raises(DeploymentNotFound):
        store.get("checkout")
    history = store.history("checkout")
    assert [(e.action, e.revision, e.reason) for e in history] == [
        ("create", 1, "launch"),
        ("set", 2, "half"),
        ("remove", 3, "done"),
    ]
    assert history[1].spec == changed and history[2].spec is None
    assert all(e.actor == churn.settings.actor() for e in history)


@pytest.mark.parametrize(
    ("arms", "error"),
    [
        ((Arm("nope@production", 1),), ModelNotFound),
        ((Arm("churn:9", 1),), VersionNotFound),
        ((Arm("churn@staging", 1),), AliasNotFound),
    ],
)
def test_unknown_references_are_refused_and_nothing_is_stored(
    churn: Registry, arms: tuple[Arm, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        churn.deployments.create(_spec(arms=arms))
    assert churn.deployments.all() == []
    with pytest.raises(DeploymentNotFound):
        churn.deployments.history("checkout")


def test_a_name_is_taken_once_by_a_deployment_or_a_model(churn: Registry) -> None:
    churn.deployments.create(_spec())
    with pytest.raises(ConflictError, match="already exists"):
        churn.deployments.create(_spec())
    with pytest.raises(ConflictError, match="model's name"):
        churn.deployments.create(_spec("churn"))
    with pytest.raises(DeploymentNotFound, match="deployments: checkout"):
        churn.deployments.set(_spec("other"))
    assert [e.action for e in churn.deployments.history("checkout")] == ["create"]
