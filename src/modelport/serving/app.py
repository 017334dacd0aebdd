"""The ASGI app: thin I/O around the pure codecs, the router and the batchers.

The two prediction routes are raw Starlette routes (no FastAPI dependency solving or
pydantic on the hot path): read the body with a size limit, decode with orjson, route,
validate against the signature, submit to the version's batcher, encode. Everything else
(health, metadata, /metrics) is ordinary FastAPI, and the raw routes are described in the
OpenAPI document by hand so /docs shows the whole surface.

Only this module turns :mod:`modelport.errors` into HTTP responses.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

import modelport
from modelport.deployments.spec import DeploymentSpec
from modelport.errors import (
    FieldProblem,
    ModelportError,
    ValidationError,
)
from modelport.reference import Reference, parse
from modelport.registry import Registry
from modelport.runtime.config import ServeConfig
from modelport.runtime.pool import ServedVersion
from modelport.runtime.service import ServingRuntime
from modelport.serving import access_log
from modelport.serving.admin import add_admin_routes
from modelport.serving.docs import add_docs_routes
from modelport.serving.feedback import add_feedback_route
from modelport.serving.guard import Guard
from modelport.serving.metadata import add_metadata_routes, v2_reference
from modelport.serving.openapi import openapi_schema
from modelport.serving.protocols import v1, v2
from modelport.serving.protocols.common import error_body, http_error_body, receive_body
from modelport.serving.repository import add_repository_routes
from modelport.serving.statistics import add_statistics_routes
from modelport.settings import Settings

log = logging.getLogger("modelport.serving")
JSON = "application/json"
#: a prediction route's handler: it answers through ``send`` itself
Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]


def _json(content: Any, status: int = 200) -> Response:
    import orjson

    return Response(orjson.dumps(content), status_code=status, media_type=JSON)


def error_response(exc: ModelportError) -> Response:
    return Response(error_body(exc), status_code=int(exc.status), media_type=JSON)


def internal_error(exc: Exception) -> ModelportError:
    """What a client sees of a bug: the JSON error shape, no traceback (that goes to the log)."""
    return ModelportError(
        f"internal error: {type(exc).__name__}", hint="the server log has details"
    )


class Server:
    """The HTTP request handlers: they decode, call the prediction pipeline, and encode.

    The handlers take the ASGI scope and answer through ``send`` themselves: a Starlette
    Request and Response per call cost a small model's request about a tenth of its time
    (header mappings, an async generator for the body, header lists rebuilt).
    """

    def __init__(self, runtime: ServingRuntime) -> None:
        self.predictions = runtime.predictions
        self.windows = runtime.windows
        self.config = runtime.config
        self.metrics = runtime.metrics
        self._references: dict[str, Reference] = {}  # path name -> parsed, see _reference

    def _reference(self, text: str) -> Reference:
        """``parse(text)``, remembered: a client names few models, often (bounded, whatever a
        hostile client makes up; an invalid one raises and is not remembered)."""
        ref = self._references.get(text)
        if ref is None:
            ref = parse(text)
            if len(self._references) >= _REFERENCES_REMEMBERED:
                self._references.clear()
            self._references[text] = ref
        return ref

    def _finish(
        self,
        scope: Scope,
        served: ServedVersion | None,
        protocol: str,
        status: int,
        t0: float,
        deployment: str | None = None,
    ) -> None:
        seconds = time.perf_counter() - t0
        if served is None:
            self.metrics.observe_request("", "", protocol, status, seconds)
            return
        self.metrics.observe_request(served.name, served.version_label, protocol, status, seconds)
        if deployment is not None:
            arm = f"{served.name}:{served.version}"
            self.metrics.observe_deployment(deployment, arm, status, seconds)
            self.windows.observe(deployment, arm, status, seconds)
        state = scope.get("state")
        if state is not None:
            state["model"], state["version"] = served.name, served.version

    async def v1_predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        served = None
        deployment: str | None = None
        content_type = JSON_TYPE
        try:
            body = await receive_body(scope, receive, self.config.max_body_bytes)
            ref = self._reference(scope["path_params"]["name"])
            req = v1.decode_request(body)
            # no await from routing to submit: an alias swap cannot retire `served` between
            routed = self.predictions.route(
                ref, lambda spec: sticky_key(spec, Headers(scope=scope), req.data)
            )
            served, deployment = routed.served, routed.deployment
            result = await self.predictions.predict(
                routed, req.data, probabilities=req.probabilities, arrived=t0
            )
            status = 200
            content = v1.encode_response(
                result.predictions, result.probabilities, served.classes, result.prediction_ids
            )
        except ModelportError as exc:
            status, content = int(exc.status), error_body(exc)
        except Exception as exc:
            log.exception("v1 predict failed")
            error = internal_error(exc)
            status, content = int(error.status), error_body(error)
        try:
            await _answer(send, status, content, content_type, served)
        finally:  # counted even if the client is gone
            self._finish(scope, served, "v1", status, t0, deployment)

    async def v2_infer(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        served = None
        deployment: str | None = None
        content_type = JSON_TYPE
        extra: list[tuple[bytes, bytes]] = []
        try:
            body = await receive_body(scope, receive, self.config.max_body_bytes)
            params = scope["path_params"]
            headers = Headers(scope=scope)
            routed = self.predictions.route(
                v2_reference(params["name"], params.get("version")),
                lambda spec: sticky_key(spec, headers, v2_field_values(body)),
            )
            served, deployment = routed.served, routed.deployment
            req = v2.decode_request(
                body,
                v2.header_length(headers.get("inference-header-content-length")),
                served.signature,
                served.has_proba,
                content_type=headers.get("content-type"),
            )
            result = await self.predictions.predict(
                routed, req.data, probabilities="predict_proba" in req.outputs, arrived=t0
            )
            results = {"predict": result.predictions}
            if result.probabilities is not None:
                results["predict_proba"] = result.probabilities
            content, header_length = v2.encode_response(
                served.name, served.version, req, results, result.prediction_ids
            )
            status = 200
            if header_length is not None:
                content_type = b"application/octet-stream"
                extra.append((b"inference-header-content-length", str(header_length).encode()))
        except ModelportError as exc:
            status, content = int(exc.status), error_body(exc)
        except Exception as exc:
            log.exception("v2 infer failed")
            error = internal_error(exc)
            status, content = int(error.status), error_body(error)
        try:
            await _answer(send, status, content, content_type, served, extra)
        finally:  # counted even if the client is gone
            self._finish(scope, served, "v2", status, t0, deployment)


#: parsed model references a server remembers (see Server._reference)
_REFERENCES_REMEMBERED = 4096
JSON_TYPE = b"application/json"


async def _answer(
    send: Send,
    status: int,
    content: bytes,
    content_type: bytes,
    served: ServedVersion | None,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Send a whole response; answered or refused, the routed version says so."""
    headers = [
        (b"content-length", str(len(content)).encode()),
        (b"content-type", content_type),
        *extra,
    ]
    if served is not None:
        headers.append((MODEL_VERSION, served.version_header))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


#: every prediction response names the version that answered (a deployment's arm, too)
MODEL_VERSION = b"x-model-version"


def sticky_key(spec: DeploymentSpec, headers: Mapping[str, str], data: Any) -> str | None:
    """The request's sticky key for ``spec``: its header, or the field's first value.

    Without one (no header, rows without names) the request is assigned at random.
    """
    sticky = spec.sticky
    if sticky is None:
        return None
    if sticky.kind == "header":
        return headers.get(sticky.key)
    value: Any = None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        value = data[0].get(sticky.key)
    elif isinstance(data, dict):
        column = data.get(sticky.key)
        value = column[0] if isinstance(column, list) and column else column
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def v2_field_values(body: bytes) -> dict[str, Any]:
    """A V2 JSON body's tensors as ``{name: data}``, for a field sticky key (else empty)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}  # binary tensors: no field to read, the request is assigned at random
    inputs = doc.get("inputs") if isinstance(doc, dict) else None
    if not isinstance(inputs, list):
        return {}
    return {
        t["name"]: t.get("data")
        for t in inputs
        if isinstance(t, dict) and isinstance(t.get("name"), str)
    }


class HotPathRouter:
    """Sends the prediction POSTs straight to their handlers; everything else to FastAPI.

    FastAPI wraps every request in several middlewares (exception handling, body limits,
    an AsyncExitStack); for a 100-microsecond model call they cost more than the model.
    The hot handlers catch their own errors, so they need none of it. Another method on a
    prediction path is answered 405 here: FastAPI would otherwise read
    ``/v1/models/x:predict`` as the status route of a model named ``x:predict``.
    """

    def __init__(self, routes: Sequence[tuple[str, Endpoint]], fallback: FastAPI) -> None:
        self.routes = [(compile_path(path)[0], endpoint) for path, endpoint in routes]
        self.fallback = fallback  # also runs the lifespan
        self.state = fallback.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            for regex, endpoint in self.routes:
                match = regex.match(path)
                if match is not None:
                    if scope["method"] == "POST":
                        scope["path_params"] = match.groupdict()
                        await endpoint(scope, receive, send)
                    else:
                        response = _method_not_allowed(scope["method"], path, "POST")
                        await response(scope, receive, send)
                    return
        await self.fallback(scope, receive, send)


def _method_not_allowed(method: str, path: str, allowed: str) -> Response:
    return Response(
        http_error_body(405, f"method {method} is not allowed on {path} (allowed: {allowed})"),
        status_code=405,
        media_type=JSON,
        headers={"allow": allowed},
    )


def _http_error_message(request: Request, exc: HTTPException) -> str:
    """Starlette's bare "Not Found" / "Method Not Allowed", said with what was asked."""
    method, path = request.method, request.url.path
    if exc.detail != HTTPStatus(exc.status_code).phrase:
        return str(exc.detail)
    if exc.status_code == 404:
        return f"no route {method} {path} (the routes are listed at /docs)"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return f"method {method} is not allowed on {path} (allowed: {allowed})"
    return str(exc.detail)


def create_app(
    config: ServeConfig | None = None,
    *,
    registry: Registry | None = None,
    settings: Settings | None = None,
) -> Guard:
    """Build the app; models load in its lifespan, so it is ready once startup completes.

    Every route but ``/v2/health/*`` needs credentials unless ``config.auth`` is off (which
    :class:`ServeConfig` allows only on a loopback address); see :mod:`.guard`.

    >>> app = create_app(ServeConfig(refs=("credit-risk@production",)))  # doctest: +SKIP
    """
    config = config or ServeConfig()
    owns_registry = registry is None
    registry = registry or Registry(settings or Settings())
    runtime = ServingRuntime(config, registry, owns_registry=owns_registry)
    pool, metrics = runtime.pool, runtime.metrics
    server = Server(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        grpc_server = None
        try:
            if config.grpc_port is not None:  # same loop, same runtime; grpcio only if asked
                from modelport.serving.grpc import server as grpc_front

                grpc_server = await grpc_front.start(runtime)
            yield
        finally:
            if grpc_server is not None:
                await grpc_front.stop(grpc_server)
            await runtime.stop()

    app = FastAPI(
        title="modelport serving",
        version=modelport.__version__,
        lifespan=lifespan,
        description="Open Inference Protocol (KServe V2) and KServe V1 / TF-Serving JSON.",
        docs_url=None,  # the offline pages of add_docs_routes instead
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.pool = pool
    app.state.metrics = metrics

    @app.exception_handler(ModelportError)
    async def _modelport_error(_: Request, exc: ModelportError) -> Response:
        return error_response(exc)

    # FastAPI's and Starlette's own errors get the same JSON shape as ours.
    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        return Response(
            http_error_body(exc.status_code, _http_error_message(request, exc)),
            status_code=exc.status_code,
            media_type=JSON,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> Response:
        problems = [
            FieldProblem(".".join(str(part) for part in e.get("loc", ())), "type", e.get("msg", ""))
            for e in exc.errors()
        ]
        return error_response(ValidationError(problems, hint="the routes are described at /docs"))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        # Starlette re-raises after answering, so the traceback still reaches the log.
        return error_response(internal_error(exc))

    # before the metadata routes: /v2/models/stats would match /v2/models/{name}
    add_statistics_routes(app, pool, runtime.deployments)
    add_metadata_routes(app, pool, metrics, runtime.deployments, config)
    add_repository_routes(app, pool, runtime.deployments, config.max_body_bytes)
    add_feedback_route(app, runtime.feedback, config.max_body_bytes)
    add_admin_routes(app, registry)
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]
    add_docs_routes(app)
    hot = [
        ("/v1/models/{name}:predict", server.v1_predict),
        ("/v2/models/{name}/infer", server.v2_infer),
        ("/v2/models/{name}/versions/{version}/infer", server.v2_infer),
    ]
    return Guard(
        HotPathRouter(hot, app),
        runtime.access,
        public_metrics=config.public_metrics,
        public_docs=config.public_docs,
        request_timeout=config.request_timeout,
    )


def app_for(config: ServeConfig, settings: Settings) -> Any:
    """The served app with its access log: what ``modelport serve`` runs."""
    access_log.configure()
    return access_log.AccessLogMiddleware(
        create_app(config, settings=settings), enabled=config.access_log
    )
