"""The artifact store: immutable model directories in a local folder or any fsspec URL.

An artifact is a directory of files written by a flavor. Its identity is one
sha256 over the sorted relative paths and contents of its files, recorded in
the registry at registration and checked every time the artifact is loaded.
Remote artifacts are copied to a local cache keyed by that digest.

With an :class:`~modelport.registry.encryption.ArtifactCipher` (the ``artifact_key``
setting) every file is written encrypted, and the digest stays the plaintext's: it is
checked after decryption, so it still proves the bytes a flavor loads are the registered
ones. Encrypted artifacts are decrypted into the same local cache, keyed also by the key
id. The cache holds plaintext, readable only by its owner (0700, under the user's home),
rather than decrypting in memory: flavors load from a directory (ONNX, LightGBM and
skops read their files by path, the Spark engine ships the directory), and the key
guards the artifact store, the copy that is shared or remote; a host that serves a model
holds it in memory anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelport.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactMissing,
    ConfigurationError,
)
from modelport.reference import validate_name
from modelport.registry.encryption import HEADER_SIZE, SETTING, ArtifactCipher, sealed_key_id
from modelport.storage import open_location

_CHUNK = 1 << 20


def directory_sha256(directory: Path) -> tuple[str, int]:
    """The digest of a directory (paths and contents, order-independent of the OS) and its size."""
    digest = hashlib.sha256()
    size = 0
    for path, name in _files(directory):
        rel = name.encode()
        digest.update(len(rel).to_bytes(8, "big") + rel)
        digest.update(path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def _files(directory: Path) -> Iterator[tuple[Path, str]]:
    """Every file under ``directory`` and its relative POSIX path, in a fixed order."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        yield path, path.relative_to(directory).as_posix()


def _filesystem(uri: str) -> tuple[Any, str, bool]:
    try:
        location = open_location(uri)
    except ConfigurationError as exc:
        raise ArtifactError(exc.message, hint=exc.hint) from exc
    return location.fs, location.root, location.local


class ArtifactStore:
    """Puts and fetches artifact directories under one root URI, encrypted with ``cipher``."""

    def __init__(
        self, root_uri: str, cache_dir: Path, *, cipher: ArtifactCipher | None = None
    ) -> None:
        self.root_uri = root_uri.rstrip("/")
        location = open_location(self.root_uri)
        self.fs, self.root, self.local = location.fs, location.root, location.local
        self._location = location
        self.cache_dir = cache_dir
        self.cipher = cipher

    def put(self, source: Path, model_name: str) -> str:
        """Copy ``source`` to a fresh, never-reused location; return its URI."""
        target = self._new_location(model_name)
        try:
            if self.local:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                staging = Path(f"{target}.partial")
                try:
                    self._put_local(source, staging)
                    os.replace(staging, target)  # readers never see a half-written artifact
                except BaseException:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
            else:
                for path, rel in _files(source):
                    if self.cipher is None:
                        self.fs.put_file(str(path), f"{target}/{rel}")
                    else:
                        with path.open("rb") as plain, self.fs.open(f"{target}/{rel}", "wb") as out:
                            self.cipher.seal(plain, out, rel)
        except OSError as exc:
            raise ArtifactError(
                f"cannot write the artifact to {self.root_uri}: {exc}",
                hint="check that the artifact location exists and is writable",
            ) from exc
        return self._location.url(target)

    def _new_location(self, model_name: str) -> str:
        """Where a new artifact of ``model_name`` goes; never outside the artifact root."""
        validate_name(model_name)
        target = f"{self.root}/{model_name}/{uuid.uuid4().hex}"
        # The name is validated, so this only fails on a validator bug or, for a local
        # root, a symlink planted in the root: either way nothing is written.
        root = posixpath.normpath(self.root).rstrip("/") + "/"
        inside = posixpath.normpath(target).startswith(root)
        if inside and self.local:
            inside = Path(target).resolve().is_relative_to(Path(self.root).resolve())
        if not inside:
            raise ArtifactError(
                f"the artifact directory of model {model_name!r} would be outside the "
                f"artifact root {self.root_uri}",
                hint="check the model name and for links in the artifact directory",
            )
        return target

    def _put_local(self, source: Path, staging: Path) -> None:
        if self.cipher is None:
            shutil.copytree(source, staging)
            return
        staging.mkdir()
        for directory in sorted(p for p in source.rglob("*") if p.is_dir()):
            (staging / directory.relative_to(source)).mkdir(parents=True, exist_ok=True)
        for path, rel in _files(source):
            with path.open("rb") as plain, (staging / rel).open("xb") as out:
                self.cipher.seal(plain, out, rel)

    def delete(self, uri: str) -> None:
        """Remove an artifact that never made it into the registry."""
        fs, path, _ = _filesystem(uri)
        with contextlib.suppress(OSError):
            fs.rm(path, recursive=True)

    def fetch(self, uri: str, sha256: str) -> Path:
        """A local directory holding the artifact's plaintext, verified against ``sha256``.

        A local plain artifact is used where it is; a remote or encrypted one is copied
        (and decrypted) into the cache first.
        """
        fs, path, is_local = _filesystem(uri)
        if is_local:
            local = Path(path)
            if not local.is_dir():
                raise ArtifactMissing(
                    f"the artifact directory {uri} does not exist",
                    hint="it was deleted or moved; re-register the model",
                )
            sealed = {self._key_id(local / rel, rel, uri) for _, rel in _files(local)}
            if sealed <= {None}:
                self._verify(local, sha256, uri)
                return local
            for key_id in sealed - {None}:  # without the key, fail even if a copy is cached
                assert key_id is not None
                self._cipher_for(key_id, uri)
        for cached in self._cached(sha256):
            if cached.is_dir():
                self._verify(cached, sha256, uri)
                return cached
        self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.cache_dir, prefix=".fetch-"))  # mode 0700
        try:
            if not fs.exists(path):
                raise ArtifactMissing(f"the artifact {uri} does not exist", hint="re-register it")
            encrypted = False
            root = path.rstrip("/")
            for remote in fs.find(path):
                rel = remote[len(root) + 1 :]
                dest = staging / rel
                if not dest.resolve().is_relative_to(staging.resolve()):
                    raise ArtifactError(f"the artifact {uri} lists a file outside it: {remote}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                encrypted |= self._copy(fs, remote, dest, rel, uri)
            self._verify(staging, sha256, uri)
            cached = self._cached(sha256)[0] if encrypted else self.cache_dir / sha256
            try:
                os.replace(staging, cached)
            except OSError:  # another process cached it first
                shutil.rmtree(staging, ignore_errors=True)
            return cached
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _cached(self, sha256: str) -> list[Path]:
        """Where a verified copy may be: decrypted with this key first, then a plain one.

        Decrypted copies are keyed by the key id too, so a process without the key never
        finds one.
        """
        plain = self.cache_dir / sha256
        if self.cipher is None:
            return [plain]
        return [self.cache_dir / f"{sha256}.{self.cipher.key_id.hex()}", plain]

    def _copy(self, fs: Any, remote: str, dest: Path, rel: str, uri: str) -> bool:
        """Copy one file into the cache, decrypting it if it is sealed; True if it was."""
        with fs.open(remote, "rb") as source, dest.open("xb") as out:
            head = source.read(HEADER_SIZE)
            key_id = sealed_key_id(head, uri, rel)
            if key_id is None:
                out.write(head)
                shutil.copyfileobj(source, out, _CHUNK)
                return False
            self._cipher_for(key_id, uri).open(head, source, out, rel, uri)
            return True

    @staticmethod
    def _key_id(path: Path, rel: str, uri: str) -> bytes | None:
        with path.open("rb") as fh:
            return sealed_key_id(fh.read(HEADER_SIZE), uri, rel)

    def _cipher_for(self, key_id: bytes, uri: str) -> ArtifactCipher:
        """The cipher that opens files sealed with ``key_id``, or why there is none."""
        if self.cipher is None:
            raise ArtifactError(
                f"the artifact {uri} is encrypted, and {SETTING} is not set",
                hint=f"set {SETTING} to the key the model was registered with",
            )
        if self.cipher.key_id != key_id:
            raise ArtifactError(
                f"the artifact {uri} is encrypted with another key (id {key_id.hex()}) "
                f"than {SETTING} (id {self.cipher.key_id.hex()})",
                hint=f"set {SETTING} to the key the model was registered with",
            )
        return self.cipher

    @staticmethod
    def _verify(directory: Path, sha256: str, uri: str) -> None:
        actual, _ = directory_sha256(directory)
        if actual != sha256:
            raise ArtifactIntegrityError(
                f"the artifact {uri} has sha256 {actual[:12]}..., "
                f"but {sha256[:12]}... was registered: it was changed after registration",
                hint="do not load it; restore the original or register the model again",
            )
