"""Triton's model repository extension: the index, and loading and unloading at runtime.

The repository is the registry. ``POST /v2/repository/index`` lists each served version
(READY, with the references it is served as) and each registered model the server does not
serve (UNAVAILABLE). ``POST /v2/repository/models/{name}/load`` serves a registered
reference from now on (a pointer, ``name`` or ``name@alias``, is followed like the
server's own); ``/unload`` stops serving it, and requests already routed finish first.
Loading and unloading need the ``admin`` role (:mod:`modelport.security.routes`).

Triton's load can take a model configuration or files to override the repository's; here a
model comes only from the registry, so such a request is refused rather than half-honoured.
A version a deployment routes to cannot be unloaded while the deployment is served (409).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request

from modelport.errors import ConflictError, InvalidArgument, NotFoundError
from modelport.reference import Reference, parse
from modelport.runtime.deployments import DeploymentRouter
from modelport.runtime.pool import ModelPool
from modelport.serving.protocols.common import json_kind, load_json, read_body
from modelport.serving.protocols.triton import index_entry


async def _options(request: Request, limit: int) -> dict[str, Any]:
    """The optional JSON object of a repository request (tritonclient may send no body)."""
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    doc = load_json(body)
    if not isinstance(doc, dict):
        raise InvalidArgument(
            f"the body must be a JSON object, got {json_kind(doc)}", hint="send {} or no body"
        )
    return doc


def _parameters(doc: dict[str, Any]) -> dict[str, Any]:
    params = doc.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidArgument(
            f'"parameters" must be an object, got {json_kind(params)}',
            hint='send {"parameters": {}} or leave it out',
        )
    return params


def add_repository_routes(
    app: FastAPI, pool: ModelPool, deployments: DeploymentRouter, max_body_bytes: int
) -> None:
    @app.post("/v2/repository/index", tags=["repository"], summary="Every model and its state")
    async def index(request: Request) -> list[dict[str, str]]:
        ready_only = (await _options(request, max_body_bytes)).get("ready", False)
        if not isinstance(ready_only, bool):
            raise InvalidArgument(
                f'"ready" must be a boolean, got {json_kind(ready_only)}',
                hint='send {"ready": true} for the served models only',
            )
        served = _served_as(pool)
        entries = [
            index_entry(name, version, True, f"served as {', '.join(refs)}")
            for (name, version), refs in sorted(served.items())
        ]
        if not ready_only:
            names = {name for name, _ in served}
            registered = await asyncio.to_thread(pool.registry.list_models)
            entries += [
                index_entry(
                    info.name,
                    None,
                    False,
                    f"not served; POST /v2/repository/models/{info.name}/load serves it",
                )
                for info in registered
                if info.name not in names and info.latest_version is not None
            ]
            entries.sort(key=lambda e: (e["name"], e["version"]))
        return entries

    @app.post(
        "/v2/repository/models/{name}/load",
        tags=["repository"],
        summary="Serve a registered model from now on",
    )
    async def load(name: str, request: Request) -> dict[str, str]:
        params = _parameters(await _options(request, max_body_bytes))
        overrides = sorted(k for k in params if k == "config" or k.startswith("file:"))
        if overrides:
            raise InvalidArgument(
                f"modelport serves registered models only; cannot override {overrides}",
                hint="register the model (modelport register), then load it by its name",
            )
        ref = parse(name)
        served = await pool.load_ref(ref)
        return index_entry(served.name, served.version, True, f"served as {ref}")

    @app.post(
        "/v2/repository/models/{name}/unload",
        tags=["repository"],
        summary="Stop serving a model",
    )
    async def unload(name: str, request: Request) -> dict[str, str]:
        params = _parameters(await _options(request, max_body_bytes))
        dependents = params.get("unload_dependents", False)  # none here: nothing to do
        if not isinstance(dependents, bool):
            raise InvalidArgument(
                f'"unload_dependents" must be a boolean, got {json_kind(dependents)}',
                hint="send true or false, or leave it out",
            )
        ref = parse(name)
        _refuse_if_deployed(pool, deployments, ref)
        retired = await pool.unload_ref(ref)
        gone = ", ".join(f"{s.name}:{s.version}" for s in retired) or "none"
        return index_entry(ref.name, None, False, f"unloaded {ref} (versions retired: {gone})")


def _served_as(pool: ModelPool) -> dict[tuple[str, int], list[str]]:
    """Each served version and the references that reach it (pointers, pins)."""
    router = pool.router
    found: dict[tuple[str, int], list[str]] = {key: [] for key in router.versions}
    for ptr, version in sorted(router.pointers.items(), key=lambda item: str(item[0])):
        found.setdefault((ptr.name, version), []).append(str(ptr))
    for name, version in router.pinned:
        if (name, version) in found:
            found[(name, version)].append(f"{name}:{version}")
    for refs in found.values():
        if not refs:  # retiring: nothing routes to it any more
            refs.append("nothing (retiring)")
        refs.sort()
    return found


def _refuse_if_deployed(pool: ModelPool, deployments: DeploymentRouter, ref: Reference) -> None:
    """409 when a served deployment routes to what ``ref`` would stop serving."""
    for spec in deployments.specs.values():
        for used in [arm.ref for arm in spec.arms] + [shadow.ref for shadow in spec.shadows]:
            target = parse(used)
            if target.name != ref.name:
                continue
            hit = ref.is_latest or target == ref
            if not hit and ref.version is not None:
                try:
                    hit = pool.route(target).version == ref.version
                except NotFoundError:  # not served: unloading cannot break it
                    hit = False
            if hit:
                raise ConflictError(
                    f"deployment {spec.name!r} routes to {used}; unloading {ref} would break it",
                    hint="change the deployment first (modelport deploy), or unload another "
                    "reference",
                )
