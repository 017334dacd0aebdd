"""The OpenAPI 3.1 document: every route with its bodies, errors, security and examples.

FastAPI cannot describe the prediction routes (they bypass it, see :mod:`.app`), and what
it infers for the others (``dict[str, Any]``, its own 422 shape) is not what they answer.
So each operation is written here, with the schemas of :mod:`.openapi_schemas` and the
examples of :mod:`.openapi_examples`. Routes added later and not described yet keep
FastAPI's description, with its validation error replaced by ours (the app answers every
error in one shape). Once the models are loaded, the served names and a valid request for
one of them become examples too, so "Try it out" in /docs works against this server.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

from modelport.runtime.pool import ServedVersion
from modelport.runtime.routing import Router, pointer
from modelport.schema import FeatureSpec, Signature
from modelport.serving.openapi_examples import (
    CHANGE_EXAMPLE,
    DEPLOYMENT_EVENT_EXAMPLE,
    DEPLOYMENT_EXAMPLE,
    ERROR_EXAMPLES,
    FEEDBACK_REJECTED_EXAMPLE,
    FEEDBACK_REQUEST_EXAMPLES,
    FEEDBACK_RESULT_EXAMPLE,
    LOAD_EXAMPLE,
    LOAD_REQUEST_EXAMPLES,
    REMOVED_EXAMPLE,
    REPOSITORY_INDEX_EXAMPLE,
    REPOSITORY_INDEX_REQUEST_EXAMPLES,
    TRITON_CONFIG_EXAMPLE,
    TRITON_STATISTICS_EXAMPLE,
    UNLOAD_EXAMPLE,
    UNLOAD_REQUEST_EXAMPLES,
    V1_REQUEST_EXAMPLES,
    V1_RESPONSE_EXAMPLES,
    V1_STATUS_EXAMPLE,
    V2_METADATA_EXAMPLE,
    V2_REQUEST_EXAMPLES,
    V2_RESPONSE_EXAMPLES,
    example,
)
from modelport.serving.openapi_schemas import SCHEMAS, ref
from modelport.serving.protocols import v1, v2

JSON = "application/json"
BINARY = "application/octet-stream"

_ERROR_DESCRIPTIONS = {
    400: "Malformed request: bad JSON, a bad envelope or an invalid model reference",
    401: "No credentials, or credentials that do not verify",
    403: "The credentials do not cover this route or model",
    404: "No such model, version, alias, deployment or route",
    405: "The method is not allowed on this path",
    409: "The change contradicts what is stored, or would break something served",
    413: "The body is larger than the server's limit (after decompression)",
    415: "A Content-Encoding other than gzip, deflate or identity",
    422: "The input does not match the model's signature (every bad field listed)",
    429: "The caller's rate limit is spent",
    500: "The version could not be loaded (its artifact or flavor failed)",
    503: "Overloaded, not ready, or the registry is unavailable",
    504: "No answer within the request timeout",
}
_AUTH = (401, 403, 429)


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _ERROR_DESCRIPTIONS[status],
        "content": {JSON: {"schema": ref("Error"), "example": ERROR_EXAMPLES[status]}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "seconds until the limit allows another request",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return response


def _json(
    schema: dict[str, Any],
    description: str,
    *,
    example: Any = None,
    examples: dict[str, Any] | None = None,
) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples is not None:
        media["examples"] = examples
    elif example is not None:
        media["example"] = example
    return {"description": description, "content": {JSON: media}}


def _operation(
    operation_id: str,
    tag: str,
    summary: str,
    ok: dict[str, Any],
    errors: tuple[int, ...],
    *,
    params: tuple[str, ...] = (),
    body: dict[str, Any] | None = None,
    description: str | None = None,
    public: bool = False,
) -> dict[str, Any]:
    statuses = errors if public else (*errors, *_AUTH)
    op: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "parameters": [_PARAMETERS[p] for p in params],
        "responses": {
            "200": ok,
            **{str(s): {"$ref": f"#/components/responses/E{s}"} for s in sorted(statuses)},
        },
    }
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = body
    if public:
        op["security"] = []
    return op


def _path(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
        "example": example,
    }


_PARAMETERS: dict[str, dict[str, Any]] = {
    "model_ref": _path(
        "name", "a model name, `name:3` or `name@alias` (URL-encoded), or a deployment", "credit"
    ),
    "model": _path("name", "a model or deployment name", "credit"),
    "version": _path("version", "a version number or an alias", "production"),
    "deployment": _path("name", "a deployment name", "credit"),
    "reason": {
        "name": "reason",
        "in": "query",
        "required": False,
        "description": "why, for the audit trail",
        "schema": {"type": "string", "maxLength": 500},
        "example": "the experiment ended",
    },
    # not a served model's name: the fuzz test must never unload what it is testing
    "repository_ref": _path(
        "name",
        "a registered model: `name` (the latest, followed), `name@alias` or `name:3`",
        "credit-risk@staging",
    ),
    # Inference-Header-Content-Length belongs to the binary body alone (V2BinaryBody says
    # so): as a parameter it would be offered with JSON bodies too, which it would cut short
}
_MODEL_VERSION_HEADER = {
    "x-model-version": {
        "description": "the version that answered, `name:version` (a deployment's arm, too)",
        "schema": {"type": "string"},
    }
}
_PREDICT_ERRORS = (400, 404, 413, 415, 422, 503, 504)
_COMPRESSION = (
    "A body may be compressed (`Content-Encoding: gzip` or `deflate`); the size limit "
    "applies to the decompressed bytes (413), another encoding is refused (415)."
)
_META_ERRORS = (400, 404, 405)


def _v1_predict() -> dict[str, Any]:
    ok = _json(ref("V1PredictResponse"), "One prediction per row", examples=V1_RESPONSE_EXAMPLES)
    ok["headers"] = _MODEL_VERSION_HEADER
    body = {
        "required": True,
        "content": {JSON: {"schema": ref("V1PredictRequest"), "examples": V1_REQUEST_EXAMPLES}},
    }
    return _operation(
        "v1_predict",
        "v1",
        "Predict (KServe V1 / TF-Serving JSON)",
        ok,
        _PREDICT_ERRORS,
        params=("model_ref",),
        body=body,
        description=f"{_for_clients(v1.__doc__)}\n\n{_COMPRESSION}",
    )


def _v2_infer(operation_id: str, params: tuple[str, ...]) -> dict[str, Any]:
    ok = _json(ref("V2InferResponse"), "The outputs", examples=V2_RESPONSE_EXAMPLES)
    ok["content"][BINARY] = {"schema": ref("V2BinaryBody")}
    ok["headers"] = {
        **_MODEL_VERSION_HEADER,
        "Inference-Header-Content-Length": {
            "description": "with binary outputs: the length of the JSON header",
            "schema": {"type": "integer", "minimum": 0},
        },
    }
    body = {
        "required": True,
        "content": {
            JSON: {"schema": ref("V2InferRequest"), "examples": V2_REQUEST_EXAMPLES},
            BINARY: {"schema": ref("V2BinaryBody")},
        },
    }
    return _operation(
        operation_id,
        "v2",
        "Infer (Open Inference Protocol)",
        ok,
        _PREDICT_ERRORS,
        params=params,
        body=body,
        description=f"{_for_clients(v2.__doc__)}\n\n{_COMPRESSION}",
    )


def _for_clients(docstring: str | None) -> str:
    """A protocol module's docstring without the paragraph on why the code is laid out so."""
    paragraphs = (docstring or "").split("\n\n")
    return "\n\n".join(p for p in paragraphs if not p.startswith("Why ")).strip()


def _paths() -> dict[str, dict[str, Any]]:
    ready = _json(
        ref("V2ModelReady"), "The model can answer", example={"name": "credit", "ready": True}
    )
    metadata = _json(ref("V2ModelMetadata"), "Inputs and outputs", example=V2_METADATA_EXAMPLE)
    feedback_body = {
        "required": True,
        "content": {
            JSON: {"schema": ref("FeedbackRequest"), "examples": FEEDBACK_REQUEST_EXAMPLES}
        },
    }
    feedback = _operation(
        "post_feedback",
        "monitoring",
        "Ground truth for logged predictions",
        _json(ref("FeedbackResult"), "Stored durably", example=FEEDBACK_RESULT_EXAMPLE),
        (400, 413, 415),
        body=feedback_body,
        description=(
            "Labels for the ids in the prediction responses (`prediction_ids` in V1, "
            "`parameters.prediction_ids` in V2): one of the model's classes, or a finite number "
            "for a regressor. Acknowledged records are on disk before the answer; ids not in the "
            "log are listed under `unknown_ids`. If any record is invalid, none is stored (422). "
            + _COMPRESSION
        ),
    )
    feedback["responses"]["422"] = {
        "description": "Some record is invalid; nothing was stored",
        "content": {
            JSON: {"schema": ref("FeedbackRejected"), "example": FEEDBACK_REJECTED_EXAMPLE}
        },
    }
    put_deployment = _operation(
        "put_deployment",
        "deployments",
        "Create or replace a deployment (admin)",
        _json(ref("Deployment"), "Replaced (a new revision)", example=DEPLOYMENT_EXAMPLE),
        (*_META_ERRORS, 409, 422, 503),
        params=("deployment",),
        body={
            "required": True,
            "content": {JSON: {"schema": ref("DeploymentChange"), "example": CHANGE_EXAMPLE}},
        },
        description=(
            "Every reference must resolve; nothing is stored otherwise. Running servers serving "
            "the deployment follow the change on their next poll; the history names the key or "
            "token that made it."
        ),
    )
    put_deployment["responses"]["201"] = _json(
        ref("Deployment"), "Created", example={**DEPLOYMENT_EXAMPLE, "revision": 1}
    )
    metrics = _operation(
        "metrics",
        "ops",
        "Prometheus metrics",
        {
            "description": "The Prometheus text exposition format",
            "content": {
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": 'modelport_requests_total{model="credit",protocol="v1",'
                    'status="200",version="3"} 1042.0\n',
                }
            },
        },
        (),
    )
    server_ready = _operation(
        "server_ready",
        "v2",
        "Every requested model is loaded",
        _json(ref("V2Ready"), "Ready", example={"ready": True}),
        (),
        public=True,
    )
    # not the error shape: readiness probes read the same body in both cases
    server_ready["responses"]["503"] = _json(
        ref("V2Ready"), "Still loading the models", example={"ready": False}
    )
    return {
        "/": {
            "get": _operation(
                "v1_live",
                "v1",
                "The process is up (KServe V1 liveness)",
                _json(ref("V1Live"), "Live", example={"status": "alive"}),
                (),
                public=True,
            )
        },
        **_triton_paths(),
        "/v2/health/live": {
            "get": _operation(
                "server_live",
                "v2",
                "The process is up",
                _json(ref("V2Live"), "Live", example={"live": True}),
                (),
                public=True,
            )
        },
        "/v2/health/ready": {"get": server_ready},
        "/v2": {
            "get": _operation(
                "server_metadata",
                "v2",
                "Server metadata",
                _json(
                    ref("V2ServerMetadata"),
                    "Name, version, extensions",
                    example={
                        "name": "modelport",
                        "version": "0.1.0",
                        "extensions": ["binary_tensor_data"],
                    },
                ),
                (),
            )
        },
        "/v2/models/{name}": {
            "get": _operation(
                "model_metadata",
                "v2",
                "Model metadata: inputs and outputs",
                metadata,
                (*_META_ERRORS, 503),
                params=("model_ref",),
            )
        },
        "/v2/models/{name}/versions/{version}": {
            "get": _operation(
                "version_metadata",
                "v2",
                "Version metadata",
                metadata,
                (*_META_ERRORS, 503),
                params=("model", "version"),
            )
        },
        "/v2/models/{name}/ready": {
            "get": _operation(
                "model_ready",
                "v2",
                "The model can answer",
                ready,
                _META_ERRORS,
                params=("model_ref",),
            )
        },
        "/v2/models/{name}/versions/{version}/ready": {
            "get": _operation(
                "version_ready",
                "v2",
                "The version can answer",
                ready,
                _META_ERRORS,
                params=("model", "version"),
            )
        },
        "/v2/models/{name}/infer": {"post": _v2_infer("v2_infer", ("model_ref",))},
        "/v2/models/{name}/versions/{version}/infer": {
            "post": _v2_infer("v2_version_infer", ("model", "version"))
        },
        "/v1/models/{name}": {
            "get": _operation(
                "v1_status",
                "v1",
                "KServe V1 / TF-Serving model status",
                _json(ref("V1ModelStatus"), "Ready", example=V1_STATUS_EXAMPLE),
                _META_ERRORS,
                params=("model_ref",),
            )
        },
        "/v1/models/{name}:predict": {"post": _v1_predict()},
        "/api/feedback": {"post": feedback},
        "/api/deployments": {
            "get": _operation(
                "deployments",
                "deployments",
                "Every deployment",
                _json(
                    {"type": "array", "items": ref("Deployment")},
                    "Every deployment's traffic policy",
                    example=[DEPLOYMENT_EXAMPLE],
                ),
                (503,),
            )
        },
        "/api/deployments/{name}": {
            "get": _operation(
                "deployment",
                "deployments",
                "A deployment's traffic policy",
                _json(ref("Deployment"), "The deployment", example=DEPLOYMENT_EXAMPLE),
                (*_META_ERRORS, 503),
                params=("deployment",),
            ),
            "put": put_deployment,
            "delete": _operation(
                "delete_deployment",
                "deployments",
                "Remove a deployment (admin)",
                _json(ref("DeploymentEvent"), "The removal, as audited", example=REMOVED_EXAMPLE),
                (*_META_ERRORS, 422, 503),
                params=("deployment", "reason"),
            ),
        },
        "/api/deployments/{name}/history": {
            "get": _operation(
                "deployment_history",
                "deployments",
                "Every change of a deployment: who, when, why",
                _json(
                    {"type": "array", "items": ref("DeploymentEvent")},
                    "Oldest first",
                    example=[DEPLOYMENT_EVENT_EXAMPLE],
                ),
                (*_META_ERRORS, 503),
                params=("deployment",),
            )
        },
        "/metrics": {"get": metrics},
    }


def _triton_paths() -> dict[str, dict[str, Any]]:
    """Triton's extensions: model configuration, statistics, the repository."""
    config = _json(ref("TritonModelConfig"), "The configuration", example=TRITON_CONFIG_EXAMPLE)
    stats = _json(
        ref("TritonStatistics"), "Running totals per version", example=TRITON_STATISTICS_EXAMPLE
    )
    entry = ref("TritonRepositoryEntry")

    def body(schema: str, examples: dict[str, Any]) -> dict[str, Any]:
        return {"required": False, "content": {JSON: {"schema": ref(schema), "examples": examples}}}

    return {
        "/v2/models/{name}/config": {
            "get": _operation(
                "model_config",
                "v2",
                "Triton model configuration",
                config,
                (*_META_ERRORS, 503),
                params=("model_ref",),
            )
        },
        "/v2/models/{name}/versions/{version}/config": {
            "get": _operation(
                "version_config",
                "v2",
                "Triton model configuration of a version",
                config,
                (*_META_ERRORS, 503),
                params=("model", "version"),
            )
        },
        "/v2/models/stats": {
            "get": _operation(
                "statistics", "v2", "Inference statistics of every served version", stats, ()
            )
        },
        "/v2/models/{name}/stats": {
            "get": _operation(
                "model_statistics",
                "v2",
                "Inference statistics of a model (every served version)",
                stats,
                _META_ERRORS,
                params=("model_ref",),
            )
        },
        "/v2/models/{name}/versions/{version}/stats": {
            "get": _operation(
                "version_statistics",
                "v2",
                "Inference statistics of a version",
                stats,
                _META_ERRORS,
                params=("model", "version"),
            )
        },
        "/v2/repository/index": {
            "post": _operation(
                "repository_index",
                "repository",
                "Every registered model: READY when served, else UNAVAILABLE",
                _json(
                    {"type": "array", "items": entry},
                    "One entry per served version and per registered model not served",
                    example=REPOSITORY_INDEX_EXAMPLE,
                ),
                (400, 413, 415, 503),
                body=body("TritonRepositoryIndexRequest", REPOSITORY_INDEX_REQUEST_EXAMPLES),
                description="Needs the `read` role (a POST that changes nothing).",
            )
        },
        "/v2/repository/models/{name}/load": {
            "post": _operation(
                "repository_load",
                "repository",
                "Serve a registered model from now on (admin)",
                _json(entry, "Loaded, warmed and routed", example=LOAD_EXAMPLE),
                (400, 404, 413, 415, 500, 503),
                params=("repository_ref",),
                body=body("TritonLoadRequest", LOAD_REQUEST_EXAMPLES),
                description=(
                    "Loads and warms the version off the event loop, then routes the reference "
                    "to it; a pointer (`name`, `name@alias`) is followed when it moves. Already "
                    "served: nothing changes. Needs the `admin` role."
                ),
            )
        },
        "/v2/repository/models/{name}/unload": {
            "post": _operation(
                "repository_unload",
                "repository",
                "Stop serving a model (admin)",
                _json(entry, "No longer served", example=UNLOAD_EXAMPLE),
                (400, 404, 409, 413, 415),
                params=("repository_ref",),
                body=body("TritonUnloadRequest", UNLOAD_REQUEST_EXAMPLES),
                description=(
                    "`name` stops every reference of the model, `name@alias` that pointer, "
                    "`name:3` that version. Requests already routed finish first. A reference "
                    "a served deployment routes to is refused (409). Needs the `admin` role."
                ),
            )
        },
    }


_SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <API key or JWT>`",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def build_document(
    title: str, version: str, description: str, routes: list[BaseRoute]
) -> dict[str, Any]:
    """The whole document, without the examples of the served models."""
    doc = get_openapi(title=title, version=version, description=description, routes=routes)
    doc["paths"] = {**doc.get("paths", {}), **_paths()}
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for fastapi_own in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_own, None)
    schemas.update(SCHEMAS)
    doc["components"]["responses"] = {f"E{s}": _error_response(s) for s in _ERROR_DESCRIPTIONS}
    doc["components"]["securitySchemes"] = _SECURITY_SCHEMES
    doc["security"] = [{"bearer": []}, {"apiKey": []}]
    # rebuilt container by container: the served examples go into this copy, never into
    # the module's data that every app shares
    rebuilt: dict[str, Any] = _our_errors(doc)
    return rebuilt


def _our_errors(node: Any) -> Any:
    """A copy of ``node`` with FastAPI's ``{"detail": [...]}`` 422 shape replaced by ours."""
    if isinstance(node, dict):
        if node.get("$ref") == "#/components/schemas/HTTPValidationError":
            return ref("Error")
        return {key: _our_errors(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_our_errors(value) for value in node]
    return node


def served_examples(doc: dict[str, Any], served: dict[str, Signature | None]) -> None:
    """Name the served models (``{ref: signature}``) in ``doc``, with a valid row for each."""
    refs = sorted(served)
    names = sorted({r.split(":")[0].split("@")[0] for r in refs})
    for path, path_item in doc["paths"].items():
        # never a served model as the repository's example: "Try it out" would unload it
        if not path.startswith(("/v1/", "/v2/")) or path.startswith("/v2/repository/"):
            continue
        for op in path_item.values():
            for param in op.get("parameters", ()):
                if param.get("in") == "path" and param["name"] == "name" and refs:
                    values = names if "{version}" in path else refs
                    param.pop("example", None)
                    param["examples"] = {v: {"value": v} for v in values}
    v1_examples: dict[str, Any] = {}
    v2_examples: dict[str, Any] = {}
    for name, signature in sorted(served.items()):
        if signature is None:
            continue  # nothing says what it takes
        row = {f.name: _example_value(f) for f in signature.inputs}
        tensors = [
            {
                "name": f.name,
                "shape": [1],
                "datatype": v2.feature_datatype(f.kind, f.dtype),
                "data": [row[f.name]],
            }
            for f in signature.inputs
        ]
        v1_examples[name] = example(f"a row for {name}", {"instances": [row]})
        v2_examples[name] = example(f"a row for {name}", {"inputs": tensors})
    paths = doc["paths"]
    v1_media = paths["/v1/models/{name}:predict"]["post"]["requestBody"]["content"][JSON]
    v1_media["examples"] = {**v1_examples, **V1_REQUEST_EXAMPLES}
    for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
        v2_media = paths[path]["post"]["requestBody"]["content"][JSON]
        v2_media["examples"] = {**v2_examples, **V2_REQUEST_EXAMPLES}


def _example_value(feature: FeatureSpec) -> Any:
    """A value the signature accepts for ``feature``: a known category, the observed minimum."""
    if feature.categories:
        return feature.categories[0]
    if feature.kind == "integer":
        return int(feature.min) if feature.min is not None else 0
    if feature.kind == "float":
        return float(feature.min) if feature.min is not None else 0.0
    if feature.kind == "boolean":
        return False
    if feature.kind == "datetime":
        return "2020-01-01T00:00:00"
    return "text"


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The document for /openapi.json; kept once the models are loaded (it then names them)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = build_document(app.title, app.version, app.description or "", app.routes)
    pool = getattr(app.state, "pool", None)
    if pool is not None and pool.ready:
        served_examples(doc, _served(pool.router))
        app.openapi_schema = doc
    return doc


def _served(router: Router[ServedVersion]) -> dict[str, Signature | None]:
    """Each served model as clients address it: its name if the latest is served, else name:N."""
    found: dict[str, Signature | None] = {}
    for name in router.models():
        latest = router.pointers.get(pointer(name))
        version = latest if latest is not None else max(router.versions_of(name))
        key = name if latest is not None else f"{name}:{version}"
        found[key] = router.versions[(name, version)].signature
    return found
