"""The prediction routes' body reader and the access log's chunked writes, without a server."""

from __future__ import annotations

import asyncio
import gzip
import io
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from starlette.requests import ClientDisconnect

from modelport.errors import PayloadTooLarge
from modelport.serving import access_log
from modelport.serving.protocols.common import receive_body


def _receiver(messages: list[dict[str, Any]]) -> Callable[[], Awaitable[dict[str, Any]]]:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/", "headers": headers}


def _read(headers: list[tuple[bytes, bytes]], messages: list[dict[str, Any]], limit: int) -> bytes:
    return asyncio.run(receive_body(_scope(headers), _receiver(messages), limit))


def test_one_message_and_many_give_the_same_body() -> None:
    body = b'{"instances": [[1.0, 2.0]]}'
    one = [{"type": "http.request", "body": body, "more_body": False}]
    parts = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    assert _read([], one, 1000) == body
    assert _read([(b"content-length", str(len(body)).encode())], parts, 1000) == body


def test_a_declared_or_streamed_body_over_the_limit_is_413() -> None:
    declared = [(b"content-length", b"5000")]
    with pytest.raises(PayloadTooLarge, match="5000 bytes; the limit is 100"):
        _read(declared, [], 100)
    chunks = [{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 2
    with pytest.raises(PayloadTooLarge, match="exceeds the limit of 100"):
        _read([], chunks, 100)


def test_a_client_gone_mid_body_is_a_disconnect() -> None:
    messages = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    with pytest.raises(ClientDisconnect):
        _read([], messages, 100)


def test_a_compressed_body_is_inflated_within_the_limit() -> None:
    body = b'{"instances": [[1.0, 2.0]]}'
    packed = gzip.compress(body)
    message = [{"type": "http.request", "body": packed, "more_body": False}]
    assert _read([(b"content-encoding", b"gzip")], message, 1000) == body
    bomb = [{"type": "http.request", "body": gzip.compress(b"0" * 10_000), "more_body": False}]
    with pytest.raises(PayloadTooLarge):
        _read([(b"content-encoding", b"gzip")], bomb, 1000)


@pytest.fixture
def stream() -> Any:
    sink = io.StringIO()
    access_log.configure(sink)
    yield sink
    access_log.flush()
    access_log._stream = None


def test_access_lines_are_written_in_chunks_on_the_loop(stream: io.StringIO) -> None:
    async def requests() -> str:
        for i in range(3):
            access_log.emit({"request_id": f"r{i}"})
        held = stream.getvalue()  # within the chunk's time: nothing written yet
        await asyncio.sleep(access_log._CHUNK_SECONDS * 3)
        return held

    assert asyncio.run(requests()) == ""
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["r0", "r1", "r2"]


def test_a_full_chunk_is_written_at_once_and_a_call_off_the_loop_too(
    stream: io.StringIO,
) -> None:
    async def burst() -> int:
        for i in range(access_log._CHUNK_LINES):
            access_log.emit({"request_id": f"r{i}"})
        return len(stream.getvalue().splitlines())

    assert asyncio.run(burst()) == access_log._CHUNK_LINES
    access_log.emit({"request_id": "direct"})  # no running loop: written now
    assert stream.getvalue().splitlines()[-1] == '{"request_id":"direct"}'
