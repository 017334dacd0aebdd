"""Compressed request bodies: gzip and deflate inflate in steps, the limit counts what comes out.

Unit tests of :class:`~modelport.serving.compression.Inflater` fed in chunks as a socket
would, then the three routes that read bodies (V1 predict, V2 infer, feedback) in-process.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import warnings
import zlib
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from modelport.errors import InvalidArgument, PayloadTooLarge, UnsupportedEncoding
from modelport.serving import ServeConfig, create_app
from modelport.serving.compression import Inflater, inflater_for
from tests.serving.conftest import Models

PAYLOAD = json.dumps({"instances": [[0.1, 0.2, 0.3, 0.4]] * 50}).encode()


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def _inflate(encoding: str, body: bytes, limit: int = 1 << 20, chunk: int = 7) -> bytes:
    inflater = Inflater(encoding, limit)
    out: list[bytes] = []
    for start in range(0, len(body), chunk):
        out += inflater.feed(body[start : start + chunk])
    inflater.finish()
    return b"".join(out)


ROUND_TRIPS = [
    ("gzip", gzip.compress(PAYLOAD), PAYLOAD),
    ("gzip", gzip.compress(PAYLOAD[:100]) + gzip.compress(PAYLOAD[100:]), PAYLOAD),  # members
    ("gzip", gzip.compress(PAYLOAD) + b"\x00\x00", PAYLOAD),  # padding some tools append
    ("deflate", zlib.compress(PAYLOAD), PAYLOAD),  # RFC 1950, what tritonclient sends
    ("deflate", _raw_deflate(PAYLOAD), PAYLOAD),  # RFC 1951, what some old clients send
    ("gzip", gzip.compress(b""), b""),
]


@pytest.mark.parametrize(("encoding", "body", "expected"), ROUND_TRIPS)
@pytest.mark.parametrize("chunk", [1, 7, 65536])
def test_bodies_inflate_whatever_the_chunking(
    encoding: str, body: bytes, expected: bytes, chunk: int
) -> None:
    assert _inflate(encoding, body, chunk=chunk) == expected


BROKEN = [
    ("gzip", b"not gzip at all", "cannot be decompressed"),
    ("gzip", gzip.compress(PAYLOAD)[:-9], "ends before the stream does"),
    ("gzip", gzip.compress(PAYLOAD) + b"trailing", "cannot be decompressed"),
    ("deflate", zlib.compress(PAYLOAD) + b"more", "follow the end"),
    ("deflate", b"\x78", "one byte"),
    ("gzip", b"", "empty"),
    ("deflate", b"", "empty"),
]


@pytest.mark.parametrize(("encoding", "body", "why"), BROKEN)
def test_broken_streams_are_400_saying_why(encoding: str, body: bytes, why: str) -> None:
    with pytest.raises(InvalidArgument, match=why):
        _inflate(encoding, body)


def test_a_bomb_is_refused_before_its_output_is_allocated() -> None:
    bomb = gzip.compress(b"\x00" * 50_000_000)  # 50 MB that compress to ~50 KB
    limit = 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match="after decompression"):
            _inflate("gzip", bomb, limit=limit, chunk=65536)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * limit  # the limit plus a chunk or so, never the 50 MB


def test_exactly_the_limit_is_allowed() -> None:
    assert _inflate("gzip", gzip.compress(PAYLOAD), limit=len(PAYLOAD)) == PAYLOAD
    with pytest.raises(PayloadTooLarge):
        _inflate("gzip", gzip.compress(PAYLOAD), limit=len(PAYLOAD) - 1)


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        (None, None),
        ("identity", None),
        ("", None),
        ("gzip", "gzip"),
        (" GZip ", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", "deflate"),
    ],
)
def test_the_encodings_understood(header: str | None, encoding: str | None) -> None:
    inflater = inflater_for(header, 100)
    assert (inflater.encoding if inflater is not None else None) == encoding


@pytest.mark.parametrize("header", ["br", "zstd", "gzip, deflate", "compress"])
def test_other_encodings_are_415(header: str) -> None:
    with pytest.raises(UnsupportedEncoding) as caught:
        inflater_for(header, 100)
    assert caught.value.status == 415 and caught.value.hint


# -- the routes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(models: Models) -> Iterator[TestClient]:
    config = ServeConfig(auth=False, refs=("numeric", "credit"), max_body_bytes=20_000)
    with TestClient(create_app(config, settings=models.settings)) as c:
        yield c


def _v2_body(models: Models) -> bytes:
    rows = models.X[:3]
    tensor = {"name": "input", "shape": [3, 4], "datatype": "FP64", "data": rows.ravel().tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _raw_deflate)],
)
def test_prediction_routes_answer_compressed_bodies_as_plain_ones(
    client: TestClient, models: Models, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    headers = {"content-encoding": encoding, "content-type": "application/json"}
    v2_plain = client.post("/v2/models/numeric/infer", content=_v2_body(models))
    packed = compress(_v2_body(models))
    v2 = client.post("/v2/models/numeric/infer", content=packed, headers=headers)
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"] == v2_plain.json()["outputs"]
    v1_body = json.dumps({"instances": models.X[:3].tolist()}).encode()
    v1 = client.post("/v1/models/numeric:predict", content=compress(v1_body), headers=headers)
    assert v1.status_code == 200, v1.text
    assert v1.json()["predictions"] == models.numeric_v2.predict(models.X[:3]).tolist()


def test_feedback_takes_a_compressed_body(client: TestClient) -> None:
    body = gzip.compress(json.dumps([{"prediction_id": "nope", "label": 1}]).encode())
    r = client.post("/api/feedback", content=body, headers={"content-encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json()["unknown_ids"] == ["nope"]


@pytest.mark.parametrize("path", ["/v2/models/numeric/infer", "/v1/models/numeric:predict"])
def test_a_bomb_under_the_limit_compressed_is_413_over_it_inflated(
    client: TestClient, path: str
) -> None:
    bomb = gzip.compress(b" " * 5_000_000)  # 5 KB on the wire, 5 MB inflated; limit 20 KB
    assert len(bomb) < 20_000
    r = client.post(path, content=bomb, headers={"content-encoding": "gzip"})
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "payload_too_large" and "decompression" in r.json()["error"]


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "code"),
    [
        ("/v2/models/numeric/infer", {"content-encoding": "gzip"}, b"{}", 400, "invalid_argument"),
        ("/v1/models/numeric:predict", {"content-encoding": "deflate"}, b"zz", 400, None),
        ("/api/feedback", {"content-encoding": "gzip"}, b"\x1f\x8b\x08", 400, None),
        ("/v2/models/numeric/infer", {"content-encoding": "br"}, b"{}", 415, None),
        ("/api/feedback", {"content-encoding": "zstd"}, b"{}", 415, "unsupported_encoding"),
    ],
)
def test_bad_compressed_bodies_are_refused_in_the_error_shape(
    client: TestClient,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    code: str | None,
) -> None:
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert "error" in r.json() and (code is None or r.json()["code"] == code)
