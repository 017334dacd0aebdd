"""Which served version answers a reference: a pure table, no I/O.

A *pointer* is a reference that moves: ``name`` (latest) or ``name@alias``. Pointers map to
version numbers; ``(name, version)`` maps to the served object. Exact references
(``name:3``) route to a loaded version directly. The alias follower changes the table;
requests only read it, on the event loop, so every swap is atomic for them.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from modelport.errors import AliasNotFound, ModelNotFound, VersionNotFound
from modelport.reference import Reference

V = TypeVar("V")


def pointer(name: str, alias: str | None = None) -> Reference:
    """The movable reference ``name`` (latest) or ``name@alias``."""
    return Reference(name, alias=alias)


class Router(Generic[V]):
    """References -> served versions. ``V`` is whatever the server keeps per version."""

    def __init__(self) -> None:
        self.pointers: dict[Reference, int] = {}
        self.versions: dict[tuple[str, int], V] = {}
        #: versions asked for by exact reference: kept even when no pointer targets them
        self.pinned: set[tuple[str, int]] = set()

    def models(self) -> list[str]:
        return sorted({name for name, _ in self.versions})

    def versions_of(self, name: str) -> list[int]:
        return sorted(v for n, v in self.versions if n == name)

    def aliases_of(self, name: str) -> dict[str, int]:
        return {p.alias: v for p, v in self.pointers.items() if p.name == name and p.alias}

    def add(self, name: str, version: int, served: V, *, pinned: bool = False) -> None:
        self.versions[(name, version)] = served
        if pinned:
            self.pinned.add((name, version))

    def point(self, ptr: Reference, version: int) -> None:
        """Aim ``ptr`` at a loaded version (the previous target stays until :meth:`sweep`)."""
        if (ptr.name, version) not in self.versions:
            raise KeyError(f"{ptr.name}:{version} is not loaded")
        self.pointers[ptr] = version

    def drop(self, ptr: Reference) -> None:
        """Stop following ``ptr`` (its alias was removed from the registry)."""
        self.pointers.pop(ptr, None)

    def sweep(self) -> list[V]:
        """Remove and return the versions no pointer targets and nobody pinned (to retire)."""
        used = {(p.name, v) for p, v in self.pointers.items()} | self.pinned
        gone = [key for key in self.versions if key not in used]
        return [self.versions.pop(key) for key in gone]

    def route(self, ref: Reference) -> V:
        """The served version for ``ref``, or a 404 error naming what is served."""
        if ref.version is not None:
            served = self.versions.get((ref.name, ref.version))
            if served is not None:
                return served
            self._check_model(ref.name)
            raise VersionNotFound(
                f"version {ref.version} of {ref.name!r} is not served",
                hint=f"served: {self._listing(ref.name)}",
            )
        version = self.pointers.get(ref)
        if version is not None:
            return self.versions[(ref.name, version)]
        self._check_model(ref.name)
        if ref.alias is not None:
            raise AliasNotFound(
                f"alias {ref.alias!r} of {ref.name!r} is not served",
                hint=f"served: {self._listing(ref.name)}",
            )
        raise VersionNotFound(
            f"the latest version of {ref.name!r} is not served",
            hint=f"served: {self._listing(ref.name)}",
        )

    def _check_model(self, name: str) -> None:
        if not any(n == name for n, _ in self.versions):
            models = ", ".join(self.models()) or "none"
            raise ModelNotFound(f"model {name!r} is not served", hint=f"served models: {models}")

    def _listing(self, name: str) -> str:
        parts = [f"{name}:{v}" for v in self.versions_of(name)]
        parts += [f"{name}@{a}" for a in sorted(self.aliases_of(name))]
        if pointer(name) in self.pointers:
            parts.append(name)
        return ", ".join(parts)
