"""The metadata routes: health, readiness, server and model metadata, V1 status, /metrics.

Ordinary FastAPI routes (they are not on the hot path). ``GET /v2/models/{name}`` describes
the latest version also when it is served only under another pointer, and Triton's
``GET /v2/models/{name}/config`` the same version as a model configuration. ``GET /`` is
KServe V1's liveness probe (the kserve SDK's ``is_server_live``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.responses import Response

import modelport
from modelport.errors import InvalidReference, VersionNotFound
from modelport.reference import Reference, parse, validate_name
from modelport.runtime.config import ServeConfig
from modelport.runtime.deployments import DeploymentRouter
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ModelPool, ServedVersion
from modelport.serving.protocols import triton, v1, v2


def v2_reference(name: str, version: str | None = None) -> Reference:
    """``/v2/models/{name}[/versions/{v}]``: ``v`` is a version number or an alias.

    Only ASCII digits make a version number ("³" or "٢" would pass ``str.isdigit``).
    """
    if not version:
        return parse(name)
    validate_name(name)
    if version.isascii() and version.isdigit():
        return parse(f"{name}:{version}")
    try:
        return parse(f"{name}@{version}")
    except InvalidReference:
        raise InvalidReference(
            f"invalid version {version!r} in the path of model {name!r}",
            hint="give a version number in ASCII digits (from 1) or an alias such as production",
        ) from None


async def describe(
    pool: ModelPool, deployments: DeploymentRouter, name: str, version: str | None
) -> ServedVersion:
    """The version that describes ``/v2/models/{name}[/versions/{version}]``."""
    ref = v2_reference(name, version)
    control = deployments.control(ref)
    if control is not None:  # a deployment is described by its control arm
        return control
    try:
        return pool.route(ref)
    except VersionNotFound:
        if not ref.is_latest:
            raise
    # Served under other pointers only (`serve bc@production bc@staging`, production =
    # latest): the registry says which version is the latest; describe it if it is loaded.
    latest = await asyncio.to_thread(pool.registry.resolve, ref)
    try:
        return pool.route(latest)
    except VersionNotFound as exc:
        raise VersionNotFound(
            f"the latest version of {ref.name!r} (version {latest.version}) is not served",
            hint=exc.hint,
        ) from None


def add_metadata_routes(
    app: FastAPI,
    pool: ModelPool,
    metrics: Metrics,
    deployments: DeploymentRouter,
    config: ServeConfig,
) -> None:
    @app.get("/", tags=["v1"], summary="The process is up (KServe V1 liveness)")
    async def v1_live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/v2/health/live", tags=["v2"], summary="The process is up")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2"], summary="Every requested model is loaded")
    async def ready() -> Response:
        return Response(
            orjson.dumps({"ready": pool.ready}),
            status_code=200 if pool.ready else 503,
            media_type="application/json",
        )

    @app.get("/v2", tags=["v2"], summary="Server metadata")
    async def server_metadata() -> dict[str, Any]:
        return {
            "name": "modelport",
            "version": modelport.__version__,
            "extensions": ["binary_tensor_data"],
        }

    async def metadata(name: str, version: str | None) -> dict[str, Any]:
        return _metadata(name, await describe(pool, deployments, name, version))

    def _metadata(name: str, served: ServedVersion) -> dict[str, Any]:
        return v2.model_metadata(
            name,
            pool.router.versions_of(parse(name).name),
            f"modelport_{served.loaded.version.flavor}",
            served.signature,
            served.classes,
        )

    async def model_config(name: str, version: str | None) -> dict[str, Any]:
        served = await describe(pool, deployments, name, version)
        return triton.model_config(
            _metadata(name, served),
            version=served.version,
            flavor=served.loaded.version.flavor,
            classes=None if served.classes is None else list(served.classes),
            max_rows=config.max_rows,
            batch=config.batch_for(served.name),
        )

    @app.get("/v2/models/{name}/config", tags=["v2"], summary="Triton model configuration")
    async def config_of_model(name: str) -> dict[str, Any]:
        return await model_config(name, None)

    @app.get(
        "/v2/models/{name}/versions/{version}/config",
        tags=["v2"],
        summary="Triton model configuration of a version",
    )
    async def config_of_version(name: str, version: str) -> dict[str, Any]:
        return await model_config(name, version)

    @app.get("/v2/models/{name}", tags=["v2"], summary="Model metadata: inputs and outputs")
    async def model_metadata(name: str) -> dict[str, Any]:
        return await metadata(name, None)

    @app.get("/v2/models/{name}/versions/{version}", tags=["v2"], summary="Version metadata")
    async def version_metadata(name: str, version: str) -> dict[str, Any]:
        return await metadata(name, version)

    @app.get("/v2/models/{name}/ready", tags=["v2"], summary="The model can answer")
    async def model_ready(name: str) -> dict[str, Any]:
        ref = v2_reference(name)
        if deployments.ready(ref) is None:
            pool.route(ref)
        return {"name": name, "ready": True}

    @app.get("/v2/models/{name}/versions/{version}/ready", tags=["v2"], summary="Version ready")
    async def version_ready(name: str, version: str) -> dict[str, Any]:
        pool.route(v2_reference(name, version))
        return {"name": name, "version": version, "ready": True}

    @app.get("/v1/models/{name}", tags=["v1"], summary="KServe V1 / TF-Serving model status")
    async def v1_status(name: str) -> dict[str, Any]:
        served = pool.route(parse(name))
        return v1.status(name, served.version)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        # which worker answered (with --workers N any one does, and counts them all)
        return Response(
            metrics.exposition(),
            media_type=metrics.content_type,
            headers={"x-modelport-worker-pid": str(os.getpid())},
        )
