"""Structured JSON access logs with a request id, as a pure ASGI middleware.

A pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``) costs one extra
coroutine per request and leaves streaming and cancellation alone. The request id is the
client's ``X-Request-ID`` when it is sane, else a fresh one; it is echoed in the response
header and in the log line. Handlers add ``model``/``version`` to ``scope["state"]``.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import sys
import threading
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("modelport.access")
_stream: Any = None  # where lines go; set by configure()
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def configure(stream: Any = None) -> None:
    """Send access lines, one JSON object each, to ``stream`` (default stdout).

    Lines are written straight to the stream, not through ``logging``: building a
    LogRecord and walking the handlers cost about 6% of a small model's request. They are
    written in chunks (see :func:`emit`). Without configure() the lines go to the
    ``modelport.access`` logger instead.
    """
    global _stream
    flush()
    _stream = stream or sys.stdout


#: a chunk is written when it holds this many lines, or this long after its first line
_CHUNK_LINES = 256
_CHUNK_SECONDS = 0.2
_pending: list[bytes] = []
_lock = threading.Lock()  # TestClients run apps on loops in other threads
_flush_scheduled = False


def emit(line: dict[str, Any]) -> None:
    """Queue one access line; the chunk is written at most ``_CHUNK_SECONDS`` later.

    A write and flush per line was a system call per request (stdout is unbuffered in
    containers, PYTHONUNBUFFERED): about 5% of a small model's request. The lines of a
    fifth of a second are written together instead, on the event loop, and whatever is
    left when the app stops (its lifespan ends) or the process exits.
    """
    global _flush_scheduled
    text = orjson.dumps(line)
    if _stream is None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(text.decode())
        return
    with _lock:
        _pending.append(text)
        full = len(_pending) >= _CHUNK_LINES
        schedule = not full and not _flush_scheduled
        if schedule:
            _flush_scheduled = True
    if full:
        flush()
    elif schedule:
        try:
            asyncio.get_running_loop().call_later(_CHUNK_SECONDS, flush)
        except RuntimeError:  # no event loop (a direct call): write it now
            flush()


def flush() -> None:
    """Write the queued lines (called on a timer, at shutdown and at exit)."""
    global _flush_scheduled
    with _lock:
        lines = _pending[:]
        _pending.clear()
        _flush_scheduled = False
    if lines and _stream is not None:
        lines.append(b"")
        _stream.write(b"\n".join(lines).decode())
        _stream.flush()


atexit.register(flush)


_PREFIX = os.urandom(6).hex()
_counter = itertools.count(1)


def request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The client's X-Request-ID if it is 1-128 plain characters, else a new unique id.

    New ids are a random per-process prefix and a counter: unique across workers and
    restarts without a system call per request.
    """
    for key, value in headers:
        if key == b"x-request-id":
            if 0 < len(value) <= 128 and all(c in _SAFE for c in value):
                return value
            break
    return f"{_PREFIX}{next(_counter):012x}".encode()


class AccessLogMiddleware:
    """Adds ``X-Request-ID`` to every HTTP response and logs one JSON line per request."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                await self.app(scope, receive, send)
            finally:
                if scope["type"] == "lifespan":  # the app stops: nothing may stay queued
                    flush()
            return
        rid = request_id(scope["headers"])
        state = scope.setdefault("state", {})
        state["request_id"] = rid.decode()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.enabled:
                line = {
                    "ts": time.time(),
                    "request_id": state["request_id"],
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    # whole microseconds: round(x, 3) costs a request more than this division
                    "duration_ms": int((time.perf_counter() - started) * 1e6) / 1000,
                    "model": state.get("model"),
                    "version": state.get("version"),
                    "client": scope["client"][0] if scope.get("client") else None,
                }
                emit(line)
