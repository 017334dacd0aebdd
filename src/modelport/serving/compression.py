"""Compressed request bodies (``Content-Encoding: gzip`` or ``deflate``), inflated in steps.

tritonclient and browsers compress large bodies. The size limit is the server's protection
against memory exhaustion, so it applies to what the body *inflates to*: each chunk read
from the socket is inflated with a cap of what the limit still allows, and the first byte
past it ends the request with 413. A gzip bomb (a few kilobytes that inflate to gigabytes)
therefore never costs more than the limit plus one chunk.

``deflate`` is the zlib format (RFC 1950, what tritonclient and most clients send); a raw
DEFLATE stream (RFC 1951, what some old clients send under that name) is recognised by its
missing zlib header and read too. Concatenated gzip members are one body, as in gzip(1).
"""

from __future__ import annotations

import zlib

from modelport.errors import InvalidArgument, PayloadTooLarge, UnsupportedEncoding

_GZIP = 16 + zlib.MAX_WBITS  # wbits for the gzip container
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body exceeds the limit of {limit} bytes (after decompression)",
        hint="split the rows into several requests",
    )


class Inflater:
    """Inflates one body chunk by chunk, never producing more than ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.produced = 0
        self._gzip = encoding == "gzip"
        self._inflate: zlib._Decompress | None = zlib.decompressobj(_GZIP) if self._gzip else None
        self._head = b""  # deflate: the first bytes, until they say zlib or raw
        self._started = False

    def feed(self, data: bytes) -> list[bytes]:
        """The inflated bytes of ``data`` (413 past the limit, 400 for a broken stream)."""
        if self._inflate is None:
            self._head += data
            if len(self._head) < 2:
                return []
            self._inflate = zlib.decompressobj(_ZLIB if _zlib_header(self._head) else _RAW)
            data, self._head = self._head, b""
        out: list[bytes] = []
        while data:
            self._started = True
            if self._inflate.eof:
                data = self._next_member(data)
                continue
            room = self.limit - self.produced + 1  # one byte past the limit proves it is over
            try:
                piece = self._inflate.decompress(data, room)
            except zlib.error as exc:
                raise self._broken(str(exc)) from None
            self.produced += len(piece)
            if self.produced > self.limit:
                raise too_large(self.limit)
            if piece:
                out.append(piece)
            data = self._inflate.unconsumed_tail or self._inflate.unused_data
        return out

    def finish(self) -> None:
        """Check the body ended where the stream does (400 if it stopped short)."""
        if not self._started:
            raise self._broken("the body is empty" if not self._head else "it has one byte")
        assert self._inflate is not None
        if not self._inflate.eof:
            raise self._broken("the compressed data ends before the stream does")

    def _next_member(self, data: bytes) -> bytes:
        """After one gzip member, another may follow; after a zlib stream, nothing may."""
        if not self._gzip:
            raise self._broken(f"{len(data)} bytes follow the end of the compressed stream")
        if not data.lstrip(b"\x00"):  # padding some tools append
            return b""
        self._inflate = zlib.decompressobj(_GZIP)
        return data

    def _broken(self, why: str) -> InvalidArgument:
        return InvalidArgument(
            f"the {self.encoding} body cannot be decompressed: {why}",
            hint=f"send the body compressed with {self.encoding}, or without Content-Encoding",
        )


def _zlib_header(head: bytes) -> bool:
    """RFC 1950: compression method 8, and the first two bytes a multiple of 31."""
    return head[0] & 0x0F == 8 and ((head[0] << 8) | head[1]) % 31 == 0


def inflater_for(header: str | None, limit: int) -> Inflater | None:
    """The inflater for a ``Content-Encoding`` header, None when the body is not encoded.

    Anything but one of gzip (or x-gzip), deflate and identity is 415: guessing would
    hand the decoders bytes they would misread.
    """
    if header is None:
        return None
    encoding = header.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding == "x-gzip":
        encoding = "gzip"
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedEncoding(
            f"unsupported Content-Encoding {header.strip()[:60]!r}",
            hint="send the body uncompressed, or compressed with one of gzip, deflate",
        )
    return Inflater(encoding, limit)
