"""The artifact store: immutable model directories in a local folder or any fsspec URL.

An artifact is a directory of files written by a flavor. Its identity is one
sha256 over the sorted relative paths and contents of its files, recorded in
the registry at registration and checked every time the artifact is loaded.
Remote artifacts are copied to a local cache keyed by that digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from modelport.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactMissing,
    ConfigurationError,
)
from modelport.storage import open_location

_CHUNK = 1 << 20


def directory_sha256(directory: Path) -> tuple[str, int]:
    """The digest of a directory (paths and contents, order-independent of the OS) and its size."""
    digest = hashlib.sha256()
    size = 0
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    for path in files:
        rel = path.relative_to(directory).as_posix().encode()
        digest.update(len(rel).to_bytes(8, "big") + rel)
        digest.update(path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def _filesystem(uri: str) -> tuple[Any, str, bool]:
    try:
        location = open_location(uri)
    except ConfigurationError as exc:
        raise ArtifactError(exc.message, hint=exc.hint) from exc
    return location.fs, location.root, location.local


class ArtifactStore:
    """Puts and fetches artifact directories under one root URI."""

    def __init__(self, root_uri: str, cache_dir: Path) -> None:
        self.root_uri = root_uri.rstrip("/")
        location = open_location(self.root_uri)
        self.fs, self.root, self.local = location.fs, location.root, location.local
        self._location = location
        self.cache_dir = cache_dir

    def put(self, source: Path, model_name: str) -> str:
        """Copy ``source`` to a fresh, never-reused location; return its URI."""
        key = f"{model_name}/{uuid.uuid4().hex}"
        target = f"{self.root}/{key}"
        try:
            if self.local:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                staging = Path(f"{target}.partial")
                shutil.copytree(source, staging)
                os.replace(staging, target)  # readers never see a half-written artifact
            else:
                for path in sorted(p for p in source.rglob("*") if p.is_file()):
                    rel = path.relative_to(source).as_posix()
                    self.fs.put_file(str(path), f"{target}/{rel}")
        except OSError as exc:
            raise ArtifactError(
                f"cannot write the artifact to {self.root_uri}: {exc}",
                hint="check that the artifact location exists and is writable",
            ) from exc
        return self._location.url(target)

    def delete(self, uri: str) -> None:
        """Remove an artifact that never made it into the registry."""
        fs, path, _ = _filesystem(uri)
        with contextlib.suppress(OSError):
            fs.rm(path, recursive=True)

    def fetch(self, uri: str, sha256: str) -> Path:
        """A local directory holding the artifact, verified against ``sha256``."""
        fs, path, is_local = _filesystem(uri)
        if is_local:
            local = Path(path)
            if not local.is_dir():
                raise ArtifactMissing(
                    f"the artifact directory {uri} does not exist",
                    hint="it was deleted or moved; re-register the model",
                )
            self._verify(local, sha256, uri)
            return local
        cached = self.cache_dir / sha256
        if cached.is_dir():
            self._verify(cached, sha256, uri)
            return cached
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.cache_dir, prefix=".fetch-"))
        try:
            if not fs.exists(path):
                raise ArtifactMissing(f"the artifact {uri} does not exist", hint="re-register it")
            for remote in fs.find(path):
                rel = remote[len(path.rstrip("/")) + 1 :]
                dest = staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(dest))
            self._verify(staging, sha256, uri)
            try:
                os.replace(staging, cached)
            except OSError:  # another process cached it first
                shutil.rmtree(staging, ignore_errors=True)
            return cached
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @staticmethod
    def _verify(directory: Path, sha256: str, uri: str) -> None:
        actual, _ = directory_sha256(directory)
        if actual != sha256:
            raise ArtifactIntegrityError(
                f"the artifact {uri} has sha256 {actual[:12]}..., "
                f"but {sha256[:12]}... was registered: it was changed after registration",
                hint="do not load it; restore the original or register the model again",
            )
