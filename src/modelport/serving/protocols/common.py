"""What both protocols share: JSON parsing with 400s and the ``{"error": ...}`` body."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import numpy as np
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from modelport.errors import (
    InvalidArgument,
    ModelportError,
    PayloadTooLarge,
)
from modelport.serving.compression import inflater_for


def load_json(body: bytes) -> Any:
    """Parse a JSON body; malformed JSON is the client's mistake (400), never a 500.

    A key given twice in one object is refused: which value was meant is ambiguous, and
    parsers disagree on which one wins.
    """
    if not body:
        raise InvalidArgument("the request body is empty", hint="send a JSON object")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"malformed JSON: {exc}", hint="send a valid JSON object") from exc
    if _may_repeat_keys(body, doc):
        _refuse_repeated_keys(body)
    return doc


def _may_repeat_keys(body: bytes, doc: Any) -> bool:
    """A cheap test that is never wrong when it says False.

    orjson keeps the last of repeated keys and has no hook to see them. Every key in the
    body is followed by a colon, so ``colons >= keys in the body >= keys in the document``,
    and the document lost keys exactly when the second inequality is strict. Counting the
    keys of the objects a request nests (never walking the number arrays) settles most
    bodies in microseconds: equal counts prove there is no repeat. Colons inside strings
    (times, URLs) make the counts differ; then the document written back out by orjson
    must hold as many colons as the body (strings keep theirs, an escape such as
    ``\\u003a`` aside). Only what both cannot clear goes to the exact, slower parse.
    """
    colons = body.count(b":")
    if colons < 2 or colons == _count_keys(doc):
        return False
    if b"\\u" in body:
        return True
    try:
        return colons != orjson.dumps(doc).count(b":")
    except (orjson.JSONEncodeError, TypeError):
        return True


def _count_keys(doc: Any) -> int:
    """Keys of the objects in objects and in lists of objects; lists of values are skipped.

    Keys it does not reach only make :func:`_may_repeat_keys` look further, never miss one.
    """
    count = 0
    stack = [doc]
    while stack:
        node = stack.pop()
        if type(node) is list:
            stack.extend(item for item in node if type(item) is dict)
            continue
        if type(node) is not dict:
            continue
        count += len(node)
        for value in node.values():
            kind = type(value)
            if kind is dict or (kind is list and value and type(value[0]) is dict):
                stack.append(value)
    return count


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return doc


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_repeated_keys(body: bytes) -> None:
    """The exact (slower) check, run only when :func:`_may_repeat_keys` cannot rule it out."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _RepeatedKey as exc:
        raise InvalidArgument(
            f"malformed JSON: the key {shown(exc.key)} appears twice in one object",
            hint="send each key once",
        ) from None
    except RecursionError:
        raise InvalidArgument(
            "malformed JSON: nested too deeply", hint="send a flatter JSON object"
        ) from None
    except ValueError as exc:  # what orjson read but the stdlib cannot: not cleared, so refused
        raise InvalidArgument(f"malformed JSON: {exc}", hint="send a valid JSON object") from None


def error_body(exc: ModelportError) -> bytes:
    """The Open Inference Protocol error shape ``{"error": "..."}``, plus our details."""
    data: dict[str, Any] = {"error": str(exc), "code": exc.code}
    problems = getattr(exc, "problems", None)
    if problems:
        data["problems"] = [p.to_dict() for p in problems]
    return orjson.dumps(data)


def http_error_body(
    status: int, message: str, problems: list[dict[str, Any]] | None = None
) -> bytes:
    """The same shape for errors the HTTP layer raises itself (no route, wrong method)."""
    try:
        code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        code = "http_error"
    data: dict[str, Any] = {"error": message, "code": code}
    if problems:
        data["problems"] = problems
    return orjson.dumps(data)


def json_kind(value: Any) -> str:
    """How a JSON value is named in messages: "a boolean", "a string", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shown(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters: a client's value quoted in an error stays short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plain(values: np.ndarray) -> list[Any]:
    """A NumPy result as JSON-ready Python values (labels may be strings or numbers)."""
    result: list[Any] = values.tolist()
    return result


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes (declared or streamed) with 413.

    A gzip or deflate body (``Content-Encoding``) is inflated as it arrives and the limit
    applies to the inflated bytes too (see :mod:`modelport.serving.compression`); any other
    encoding is 415.
    """
    inflater = inflater_for(request.headers.get("content-encoding"), limit)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _declared_too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if inflater is None:
            chunks.append(chunk)
        elif chunk:
            chunks += inflater.feed(chunk)
    if inflater is not None:
        inflater.finish()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def receive_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """:func:`read_body` for the prediction routes, which have no :class:`Request`.

    The common case, an uncompressed body in one message, costs one ``receive`` here: no
    request object, no header mapping, no async generator (together about a tenth of a small
    model's request). A compressed body goes the general way.
    """
    declared = None
    for key, value in scope["headers"]:
        if key == b"content-length":
            declared = value
        elif key == b"content-encoding":
            return await read_body(Request(scope, receive), limit)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _declared_too_large(declared.decode(), limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody to answer
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def _declared_too_large(declared: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body has {declared} bytes; the limit is {limit}",
        hint="split the rows into several requests",
    )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body exceeds the limit of {limit} bytes", hint="split the rows into several requests"
    )
