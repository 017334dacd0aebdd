"""Artifact files encrypted at rest: AES-256-GCM, sealed in segments, a fresh nonce per file.

Optional: with ``MODELPORT_ARTIFACT_KEY`` set (base64 of 32 random bytes), every file the
artifact store writes is sealed; without it, files are written as they are. A file says
which it is by its first bytes, so sealed and plain artifacts live side by side::

    magic (8) | format version (1) | key id (8) | nonce (12) | segment 0 | segment 1 | ...

Each segment seals up to 1 MiB of the file (and adds a 16-byte tag), because AES-GCM
seals a whole message in memory and at most 2 GiB of it. Segment ``i`` uses the file's
random nonce plus ``i``, and authenticates the header, the file's path inside the artifact,
``i`` and whether it is the last segment; so a file moved to another path, cut short at a
segment boundary, extended or reordered fails authentication like any changed byte.

The key id (8 bytes of a sha256 of the key) tells a wrong key apart from a tampered file:
the first is an :class:`ArtifactError` naming the setting, the second an
:class:`ArtifactIntegrityError`. It reveals nothing useful about a 256-bit random key.

Make a key with::

    python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterator
from typing import IO

from pydantic import SecretStr

from modelport.errors import ArtifactError, ArtifactIntegrityError, ConfigurationError

SETTING = "MODELPORT_ARTIFACT_KEY"
MAKE_KEY = 'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"'

_MAGIC = b"\x89MPSEAL\n"  # not text, not a zip, pickle or protobuf start: no plain file's
_VERSION = 1
_KEY_ID = 8
_NONCE = 12
HEADER_SIZE = len(_MAGIC) + 1 + _KEY_ID + _NONCE
_SEGMENT = 1 << 20
_TAG = 16


class ArtifactCipher:
    """Seals and opens artifact files with one AES-256 key."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != 32:
            raise ConfigurationError(
                f"{SETTING} is {len(key)} bytes long, but an AES-256 key is 32 bytes",
                hint=f"make one with: {MAKE_KEY}",
            )
        self._aead = AESGCM(key)
        #: names the key in headers and messages without revealing it
        self.key_id = hashlib.sha256(b"modelport artifact key id\0" + key).digest()[:_KEY_ID]

    @classmethod
    def from_setting(cls, value: SecretStr | None) -> ArtifactCipher | None:
        """The cipher of the ``artifact_key`` setting, or None when it is not set."""
        if value is None:
            return None
        text = value.get_secret_value().strip()
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):  # never show the value: it is (nearly) the key
            raise ConfigurationError(
                f"{SETTING} is not base64",
                hint=f"give the base64 of 32 random bytes; make one with: {MAKE_KEY}",
            ) from None
        return cls(key)

    def seal(self, source: IO[bytes], out: IO[bytes], path: str) -> None:
        """Write ``source`` to ``out`` encrypted; ``path`` is the file's place in the artifact."""
        nonce = os.urandom(_NONCE)
        header = _MAGIC + bytes([_VERSION]) + self.key_id + nonce
        out.write(header)
        for index, (chunk, last) in enumerate(_chunks(source, _SEGMENT)):
            aad = _aad(header, path, index, last)
            out.write(self._aead.encrypt(_nonce(nonce, index), chunk, aad))

    def open(self, header: bytes, source: IO[bytes], out: IO[bytes], path: str, uri: str) -> None:
        """Write the plaintext of a sealed file to ``out``; ``header`` was read from it already.

        Raises ArtifactIntegrityError when any segment fails authentication: ``out`` may
        then hold a prefix, so callers write into a staging area they throw away.
        """
        from cryptography.exceptions import InvalidTag

        if len(header) < HEADER_SIZE:
            raise _tampered(uri, path, "its encryption header is cut short")
        nonce = header[HEADER_SIZE - _NONCE : HEADER_SIZE]
        for index, (chunk, last) in enumerate(_chunks(source, _SEGMENT + _TAG)):
            try:
                plain = self._aead.decrypt(
                    _nonce(nonce, index), chunk, _aad(header, path, index, last)
                )
            except InvalidTag:
                raise _tampered(uri, path, "fails authentication (AES-GCM)") from None
            out.write(plain)

    def __repr__(self) -> str:
        return f"ArtifactCipher(key_id={self.key_id.hex()})"


def sealed_key_id(head: bytes, uri: str, path: str) -> bytes | None:
    """The key id in a file's first :data:`HEADER_SIZE` bytes, or None for a plain file."""
    if not head.startswith(_MAGIC):
        return None
    if len(head) < HEADER_SIZE:
        raise _tampered(uri, path, "its encryption header is cut short")
    if head[len(_MAGIC)] != _VERSION:
        raise ArtifactError(
            f"the artifact file {path} of {uri} is encrypted in format {head[len(_MAGIC)]}, "
            f"which this modelport does not know (it knows {_VERSION})",
            hint="load it with the newer modelport that registered it",
        )
    return head[len(_MAGIC) + 1 : len(_MAGIC) + 1 + _KEY_ID]


def _chunks(source: IO[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """``source`` in pieces of ``size`` bytes, each with whether it is the last one.

    An empty file is one empty last piece, so it too is sealed and authenticated.
    """
    current = source.read(size)
    while True:
        following = source.read(size) if len(current) == size else b""
        yield current, not following
        if not following:
            return
        current = following


def _nonce(base: bytes, index: int) -> bytes:
    value = (int.from_bytes(base, "big") + index) % (1 << (8 * _NONCE))
    return value.to_bytes(_NONCE, "big")


def _aad(header: bytes, path: str, index: int, last: bool) -> bytes:
    encoded = path.encode()
    return header + struct.pack(">Q", len(encoded)) + encoded + struct.pack(">Q?", index, last)


def _tampered(uri: str, path: str, what: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(
        f"the encrypted artifact file {path} of {uri} {what}: it was changed after "
        "registration, damaged, or moved from another path",
        hint="do not load it; restore the original or register the model again",
    )
