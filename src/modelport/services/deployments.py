"""Changing deployments on behalf of a caller: what the HTTP admin routes (and later the
dashboard) do, with the caller as the actor of the audit trail."""

from __future__ import annotations

from modelport.deployments.spec import DeploymentSpec
from modelport.registry import Registry
from modelport.registry.deployments import Deployment, DeploymentEvent


def put_deployment(
    registry: Registry, spec: DeploymentSpec, *, reason: str | None, actor: str
) -> tuple[Deployment, bool]:
    """Create ``spec`` or replace the stored one; the deployment and whether it is new.

    Every reference is checked before anything is stored (the store does it in its write),
    and the change is one transaction with its audit event.
    """
    store = registry.deployments
    if store.find(spec.name) is None:
        return store.create(spec, reason=reason, actor=actor), True
    return store.set(spec, reason=reason, actor=actor), False


def remove_deployment(
    registry: Registry, name: str, *, reason: str | None, actor: str
) -> DeploymentEvent:
    return registry.deployments.remove(name, reason=reason, actor=actor)


__all__ = ["put_deployment", "remove_deployment"]
