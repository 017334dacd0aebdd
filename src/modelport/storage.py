"""Locations: a local directory or any fsspec URL (s3://, gs://, memory://), opened one way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fsspec

from modelport.errors import ConfigurationError


@dataclass(frozen=True)
class Location:
    """A filesystem and the root path on it; ``local`` when plain OS file calls work."""

    fs: Any
    root: str
    local: bool

    def url(self, path: str) -> str:
        """A path on this filesystem as a URL that :func:`open_location` accepts again."""
        if self.local:
            return path
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{protocol}://{path}"


def open_location(uri: str) -> Location:
    try:
        fs, root = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot open storage location {uri!r}: {exc}",
            hint="use a local directory or an fsspec URL whose package is installed (s3fs, gcsfs)",
        ) from exc
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return Location(fs, root.rstrip("/") or root, local=bool({"file", "local"} & set(protocols)))
