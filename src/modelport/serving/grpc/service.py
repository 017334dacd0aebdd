"""The ``inference.GRPCInferenceService`` servicer: the HTTP V2 handler's steps, over gRPC.

It holds no state of its own: access control, routing, validation, batching, logging and
metrics are the :class:`~modelport.runtime.service.ServingRuntime`'s, exactly as the HTTP
front end uses them. Each RPC takes and returns serialized bytes: the servicer parses the
request itself, so a malformed message is INVALID_ARGUMENT with a message (gRPC would call
a failing deserializer INTERNAL), and the request's size on the wire is known for the
shape check.

Credentials come from the metadata (``authorization: Bearer KEY`` or ``x-api-key``) and
are checked like a header: ModelInfer needs ``predict`` for the model, the metadata RPCs
``read``, ServerLive and ServerReady nothing (probes). The answering version is in the
response's ``model_version`` and, as over HTTP, in ``x-model-version`` (trailing metadata),
refusals included once a version was routed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]

import modelport
from modelport.errors import InvalidArgument, ModelportError, NotFoundError, RequestTimeout
from modelport.reference import Reference
from modelport.runtime.pool import ServedVersion
from modelport.runtime.service import ServingRuntime
from modelport.security.keys import Role
from modelport.security.principal import Principal
from modelport.services.access import credential_of
from modelport.serving.app import MODEL_VERSION, internal_error, sticky_key
from modelport.serving.grpc import codec
from modelport.serving.grpc import grpc_predict_v2_pb2 as pb
from modelport.serving.grpc.codec import serialized
from modelport.serving.grpc.status import code_of, trailers
from modelport.serving.metadata import v2_reference
from modelport.serving.protocols import v2

log = logging.getLogger("modelport.serving")
SERVICE = "inference.GRPCInferenceService"
_VERSION_KEY = MODEL_VERSION.decode()
_CREDENTIAL_KEYS = frozenset({"authorization", "x-api-key"})
Handler = Callable[[bytes, Any], Awaitable[bytes]]


class _Caseless(dict[str, str]):
    """Metadata keys are lowercase; a deployment's sticky header may be spelled otherwise."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def _peer_address(peer: str | None) -> str | None:
    """``ipv4:127.0.0.1:5000`` / ``ipv6:[::1]:5000`` -> the address, as HTTP sees a client."""
    if not peer:
        return None
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or rest
    return rest or peer  # unix sockets: the path


def _parse(kind: type[Message], data: bytes) -> Any:
    try:
        return kind.FromString(data)
    except DecodeError as exc:
        raise InvalidArgument(
            f"the message is not a valid {kind.DESCRIPTOR.name}: {exc}",
            hint="send the message of the KServe V2 protocol this RPC takes",
        ) from exc


class InferenceServicer:
    """The RPCs of the Open Inference Protocol, on one serving runtime."""

    def __init__(self, runtime: ServingRuntime) -> None:
        self.runtime = runtime
        self.access = runtime.access
        self.predictions = runtime.predictions
        self.metrics = runtime.metrics
        self.windows = runtime.windows
        self.timeout = runtime.config.request_timeout or None

    def handlers(self) -> Mapping[str, Handler]:
        """RPC name -> coroutine on serialized bytes."""
        return {
            "ServerLive": self.server_live,
            "ServerReady": self.server_ready,
            "ModelReady": self.model_ready,
            "ServerMetadata": self.server_metadata,
            "ModelMetadata": self.model_metadata,
            "ModelInfer": self.model_infer,
        }

    # -- access ----------------------------------------------------------------------------

    async def _principal(self, context: Any) -> tuple[Principal, str | None]:
        """Who calls (401 when nobody verifiable) and from which address."""
        client = _peer_address(context.peer())
        principal = self.access.remembered(None) if not self.access.enabled else None
        if principal is None:
            pairs = [
                (key.encode(), value.encode("utf-8", "surrogateescape"))
                for key, value in context.invocation_metadata() or ()
                if key in _CREDENTIAL_KEYS and isinstance(value, str)
            ]
            credential = credential_of(pairs)
            principal = self.access.remembered(credential)
            if principal is None:
                principal = await self.access.authenticate(credential, client)
        return principal, client

    def _allow(
        self, principal: Principal, client: str | None, role: Role, model: str | None
    ) -> str | None:
        """Role, scope, rate: then a concurrency slot, which the caller must give back."""
        self.access.authorize(principal, role, model, client)
        self.access.admit(principal, client)
        return self.access.enter(principal, client)

    async def _read(self, context: Any, model: str | None) -> str | None:
        principal, client = await self._principal(context)
        return self._allow(principal, client, "read", model)

    # -- health and metadata ---------------------------------------------------------------

    async def server_live(self, data: bytes, context: Any) -> bytes:
        return serialized(pb.ServerLiveResponse(live=True))

    async def server_ready(self, data: bytes, context: Any) -> bytes:
        return serialized(pb.ServerReadyResponse(ready=self.runtime.ready))

    async def server_metadata(self, data: bytes, context: Any) -> bytes:
        async def answer() -> bytes:
            _parse(pb.ServerMetadataRequest, data)
            slot = await self._read(context, None)
            self.access.leave(slot)
            return serialized(
                pb.ServerMetadataResponse(
                    name="modelport", version=modelport.__version__, extensions=[]
                )
            )

        return await self._answer(context, answer)

    async def model_ready(self, data: bytes, context: Any) -> bytes:
        async def answer() -> bytes:
            request = _parse(pb.ModelReadyRequest, data)
            ref = v2_reference(request.name, request.version or None)
            slot = await self._read(context, ref.name)
            self.access.leave(slot)
            # a boolean question: a model that is not served is not ready (HTTP says 404)
            try:
                if request.version or self.runtime.deployments.ready(ref) is None:
                    self.runtime.pool.route(ref)
            except NotFoundError:
                return serialized(pb.ModelReadyResponse(ready=False))
            return serialized(pb.ModelReadyResponse(ready=True))

        return await self._answer(context, answer)

    async def model_metadata(self, data: bytes, context: Any) -> bytes:
        async def answer() -> bytes:
            request = _parse(pb.ModelMetadataRequest, data)
            ref = v2_reference(request.name, request.version or None)
            slot = await self._read(context, ref.name)
            self.access.leave(slot)
            served = self._described(ref)
            meta = v2.model_metadata(
                request.name,
                self.runtime.pool.router.versions_of(ref.name),
                f"modelport_{served.loaded.version.flavor}",
                served.signature,
                served.classes,
            )
            response = pb.ModelMetadataResponse(
                name=meta["name"], versions=meta["versions"], platform=meta["platform"]
            )
            for kind in ("inputs", "outputs"):
                for tensor in meta[kind]:
                    getattr(response, kind).add(**tensor)
            return serialized(response)

        return await self._answer(context, answer)

    def _described(self, ref: Reference) -> ServedVersion:
        """A deployment is described by its control arm, a model by the version routed."""
        control = self.runtime.deployments.control(ref)
        return control if control is not None else self.runtime.pool.route(ref)

    async def _answer(self, context: Any, answer: Callable[[], Awaitable[bytes]]) -> bytes:
        """Run a metadata RPC; its errors become status codes (aborting raises)."""
        try:
            return await answer()
        except ModelportError as exc:
            error = exc
        except Exception as exc:
            log.exception("gRPC metadata call failed")
            error = internal_error(exc)
        await context.abort(code_of(error), str(error), trailers(error))
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    # -- inference -------------------------------------------------------------------------

    async def model_infer(self, data: bytes, context: Any) -> bytes:
        """The steps of ``Server.v2_infer``: authenticate, route, decode, predict, encode."""
        t0 = time.perf_counter()
        served: ServedVersion | None = None
        deployment: str | None = None
        slot: str | None = None
        error: ModelportError | None = None
        answer = b""
        try:
            principal, client = await self._principal(context)
            request = codec.parse_request(data)
            ref = v2_reference(request.model_name, request.model_version or None)
            slot = self._allow(principal, client, "predict", ref.name)
            routed = self.predictions.route(
                ref,
                lambda spec: sticky_key(
                    spec,
                    _Caseless(context.invocation_metadata() or ()),
                    codec.field_values(request),
                ),
            )
            served, deployment = routed.served, routed.deployment
            req = codec.decode_inputs(request, len(data), served.signature, served.has_proba)
            predicting = self.predictions.predict(
                routed, req.data, probabilities="predict_proba" in req.outputs, arrived=t0
            )
            if self.timeout is None:
                result = await predicting
            else:
                try:
                    async with asyncio.timeout(self.timeout):
                        result = await predicting
                except TimeoutError:
                    raise RequestTimeout(
                        f"no answer within the request timeout of {self.timeout:g} s",
                        hint="retry later; the server is busy or the model is slow",
                    ) from None
            results = {"predict": result.predictions}
            if result.probabilities is not None:
                results["predict_proba"] = result.probabilities
            answer = codec.encode_response(
                served.name, served.version, req, results, result.prediction_ids
            )
        except ModelportError as exc:
            error = exc
        except Exception as exc:
            log.exception("gRPC infer failed")
            error = internal_error(exc)
        finally:
            self.access.leave(slot)
        self._finish(served, 200 if error is None else int(error.status), t0, deployment)
        version = () if served is None else ((_VERSION_KEY, served.version_header.decode()),)
        if error is None:
            context.set_trailing_metadata(version)
            return answer
        await context.abort(code_of(error), str(error), version + trailers(error))
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    def _finish(
        self, served: ServedVersion | None, status: int, t0: float, deployment: str | None
    ) -> None:
        """What the HTTP handlers record, under the protocol label ``grpc``."""
        model, version = (served.name, served.version_label) if served else ("", "")
        seconds = time.perf_counter() - t0
        self.metrics.observe_request(model, version, "grpc", status, seconds)
        if deployment is not None and served is not None:
            arm = f"{served.name}:{served.version}"
            self.metrics.observe_deployment(deployment, arm, status, seconds)
            self.windows.observe(deployment, arm, status, seconds)


def method_handlers(servicer: InferenceServicer) -> Any:
    """The gRPC handler of the service: raw bytes in and out (the servicer parses)."""
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            name: grpc.unary_unary_rpc_method_handler(handler)
            for name, handler in servicer.handlers().items()
        },
    )


class Unimplemented(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Triton's extra RPCs (ModelConfig, RepositoryIndex, ...): UNIMPLEMENTED, with a reason.

    Without it gRPC answers "Method not found!", which reads like a wrong address.
    """

    _STREAMING = frozenset({"ModelStreamInfer"})

    def service(self, details: Any) -> Any:
        service, _, method = str(details.method).lstrip("/").partition("/")
        if service != SERVICE:
            return None
        message = (
            f"modelport does not implement {method} (a Triton extension); it serves the "
            "KServe V2 RPCs ServerLive, ServerReady, ModelReady, ServerMetadata, "
            "ModelMetadata and ModelInfer"
        )

        async def refuse(_: Any, context: Any) -> None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

        if method in self._STREAMING:
            return grpc.stream_stream_rpc_method_handler(refuse)
        return grpc.unary_unary_rpc_method_handler(refuse)
