"""``/api/deployments``: read and change deployments over HTTP.

Reading needs the ``read`` role, changing needs ``admin`` (the guard's route table,
:mod:`modelport.security.routes`: every non-GET route under ``/api/`` but feedback is
admin). The audit trail names the key or token that made the change, not the server's user.
A running server serving the deployment follows the change on its next poll.
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from modelport.deployments.spec import Arm, DeploymentSpec, Shadow, parse_sticky
from modelport.registry import Registry
from modelport.services.deployments import put_deployment, remove_deployment


class ArmBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ref: str = Field(max_length=300, examples=["credit-risk@production"])
    weight: float = Field(ge=0, examples=[90])

    @field_validator("weight")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("weight must be a finite number")
        return value


class ShadowBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ref: str = Field(max_length=300, examples=["credit-risk:4"])
    percent: float = Field(ge=0, le=100, examples=[50])


class DeploymentBody(BaseModel):
    """A traffic policy, as ``modelport deploy create`` takes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    arms: list[ArmBody] = Field(min_length=1, max_length=100)
    sticky: str | None = Field(default=None, max_length=200, examples=["header:X-User-Id"])
    shadows: list[ShadowBody] = Field(default_factory=list, max_length=100)
    reason: str | None = Field(default=None, max_length=500)


def actor_of(request: Request) -> str:
    """The principal the guard verified, else (auth off, loopback) the client address."""
    state = request.scope.get("state") or {}
    principal = state.get("principal")
    if principal:
        return str(principal)
    client = request.client.host if request.client else "unknown"
    return f"anonymous@{client}"


def add_admin_routes(app: FastAPI, registry: Registry) -> None:
    @app.get("/api/deployments", tags=["deployments"], summary="Every deployment")
    async def deployments() -> list[dict[str, Any]]:
        found = await asyncio.to_thread(registry.deployments.all)
        return [d.summary() for d in found]

    @app.get(
        "/api/deployments/{name}", tags=["deployments"], summary="A deployment's traffic policy"
    )
    async def deployment(name: str) -> dict[str, Any]:
        return (await asyncio.to_thread(registry.deployments.get, name)).summary()

    @app.put(
        "/api/deployments/{name}",
        tags=["deployments"],
        summary="Create or replace a deployment (admin)",
        status_code=200,
    )
    async def put(
        name: str, body: DeploymentBody, request: Request, response: Response
    ) -> dict[str, Any]:
        spec = DeploymentSpec(
            name,
            tuple(Arm(a.ref, a.weight) for a in body.arms),
            None if body.sticky is None else parse_sticky(body.sticky),
            tuple(Shadow(s.ref, s.percent) for s in body.shadows),
        )
        saved, created = await asyncio.to_thread(
            put_deployment, registry, spec, reason=body.reason, actor=actor_of(request)
        )
        if created:
            response.status_code = 201
        return saved.summary()

    @app.delete(
        "/api/deployments/{name}", tags=["deployments"], summary="Remove a deployment (admin)"
    )
    async def delete(
        name: str,
        request: Request,
        reason: Annotated[str | None, Query(max_length=500)] = None,
    ) -> dict[str, Any]:
        event = await asyncio.to_thread(
            remove_deployment, registry, name, reason=reason, actor=actor_of(request)
        )
        return event.summary()

    @app.get(
        "/api/deployments/{name}/history",
        tags=["deployments"],
        summary="Every change of a deployment: who, when, why",
    )
    async def history(name: str) -> list[dict[str, Any]]:
        events = await asyncio.to_thread(registry.deployments.history, name)
        return [e.summary() for e in events]
