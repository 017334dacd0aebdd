"""``/api/deployments``: the deployments a server knows, as the registry holds them (read-only).

Changing a deployment over HTTP waits for authentication (an admin role): an unauthenticated
management API is the most common hole in model servers. Until then the CLI and the Python
API change deployments, and running servers follow.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from modelport.registry import Registry


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

    @app.get(
        "/api/deployments/{name}/history",
        tags=["deployments"],
        summary="Every change of a deployment: who, when, why",
    )
    async def history(name: str) -> list[dict[str, Any]]:
        events = await asyncio.to_thread(registry.deployments.history, name)
        return [e.summary() for e in events]
