"""modelport errors -> gRPC status codes: the one place the gRPC front end decides them.

The HTTP status each error carries says who is at fault; gRPC has its own words for the
same. 413 and 429 become RESOURCE_EXHAUSTED, as gRPC itself answers a message over the
size limit; a full queue (503 Overloaded) too, since retrying later helps; a model or
registry that is not there yet (other 503s) UNAVAILABLE. INTERNAL is left for what the
server got wrong.
"""

from __future__ import annotations

from http import HTTPStatus

import grpc  # type: ignore[import-untyped]

from modelport.errors import ModelportError, Overloaded

_CODES = {
    HTTPStatus.BAD_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    HTTPStatus.UNPROCESSABLE_ENTITY: grpc.StatusCode.INVALID_ARGUMENT,
    HTTPStatus.UNAUTHORIZED: grpc.StatusCode.UNAUTHENTICATED,
    HTTPStatus.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    HTTPStatus.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    HTTPStatus.CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    HTTPStatus.TOO_MANY_REQUESTS: grpc.StatusCode.RESOURCE_EXHAUSTED,
    HTTPStatus.SERVICE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    HTTPStatus.GATEWAY_TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def code_of(exc: ModelportError) -> grpc.StatusCode:
    """The status code a client is answered with for ``exc``."""
    if isinstance(exc, Overloaded):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return _CODES.get(exc.status, grpc.StatusCode.INTERNAL)


def trailers(exc: ModelportError) -> tuple[tuple[str, str], ...]:
    """Trailing metadata of a refusal: the error code, and when to retry a rate limit."""
    pairs = [("x-error-code", exc.code)]
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        pairs.append(("retry-after", str(max(1, round(retry_after + 0.5)))))
    return tuple(pairs)
