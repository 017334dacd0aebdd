"""Triton's statistics extension: ``GET /v2/models[/{name}[/versions/{v}]]/stats``.

Per served version, the running totals of :mod:`modelport.runtime.statistics`. A bare name
covers every served version of the model, ``name@alias`` or ``/versions/{v}`` the one it
routes to, and a deployment's name the versions of its arms. ``/v2/models/stats`` is
registered before ``/v2/models/{name}``, whose pattern it would match (as in Triton, a model
named ``stats`` has its metadata shadowed).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from modelport.reference import parse
from modelport.runtime.deployments import DeploymentRouter
from modelport.runtime.pool import ModelPool, ServedVersion
from modelport.runtime.statistics import model_stats
from modelport.serving.metadata import v2_reference


def _answer(versions: list[ServedVersion]) -> dict[str, Any]:
    unique = {(s.name, s.version): s for s in versions}
    return {
        "model_stats": [model_stats(s.name, s.version, s.stats) for _, s in sorted(unique.items())]
    }


def add_statistics_routes(app: FastAPI, pool: ModelPool, deployments: DeploymentRouter) -> None:
    @app.get("/v2/models/stats", tags=["v2"], summary="Inference statistics of every model")
    async def every_model() -> dict[str, Any]:
        return _answer(list(pool.router.versions.values()))

    @app.get("/v2/models/{name}/stats", tags=["v2"], summary="Inference statistics of a model")
    async def one_model(name: str) -> dict[str, Any]:
        ref = parse(name)
        if not ref.is_latest:
            return _answer([pool.route(ref)])
        spec = deployments.specs.get(ref.name)
        if spec is not None:
            refs = [arm.ref for arm in spec.arms] + [shadow.ref for shadow in spec.shadows]
            return _answer([pool.route(parse(r)) for r in refs])
        versions = pool.router.versions_of(ref.name)
        if not versions:
            pool.route(ref)  # the 404 naming the served models
        return _answer([pool.router.versions[(ref.name, v)] for v in versions])

    @app.get(
        "/v2/models/{name}/versions/{version}/stats",
        tags=["v2"],
        summary="Inference statistics of a version",
    )
    async def one_version(name: str, version: str) -> dict[str, Any]:
        return _answer([pool.route(v2_reference(name, version))])
