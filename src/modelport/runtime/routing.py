"""Which served version answers a reference: a pure table, no I/O.

A *pointer* is a reference that moves: ``name`` (latest) or ``name@alias``. Pointers map to
version numbers; ``(name, version)`` maps to the served object. Exact references
(``name:3``) route to a loaded version directly. The alias follower changes the table;
requests only read it, on the event loop, so every swap is atomic for them.

A bare name (``name``) is the latest pointer when that is served. Otherwise it still
resolves when the server serves exactly one version of the model (``serve bc@production``
answers ``bc``: clients that know only the model name expect that); when several versions
are served and none is the latest, nothing says which was meant, and the 404 lists them.
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

    def release(self, ref: Reference) -> list[Reference] | None:
        """Stop serving ``ref``: the pointers it released, None if nothing matched.

        ``name`` releases every pointer and pin of the model, ``name@alias`` that pointer,
        ``name:3`` that version's pin and every pointer aimed at it. :meth:`sweep` then
        retires what nothing serves any more.
        """
        if ref.version is not None:
            key = (ref.name, ref.version)
            found = key in self.versions
            aimed = [p for p, v in self.pointers.items() if (p.name, v) == key]
            self.pinned.discard(key)
        elif ref.alias is not None:
            aimed = [ref] if ref in self.pointers else []
            found = bool(aimed)
        else:
            found = any(n == ref.name for n, _ in self.versions)
            aimed = [p for p in self.pointers if p.name == ref.name]
            self.pinned -= {key for key in self.pinned if key[0] == ref.name}
        for ptr in aimed:
            del self.pointers[ptr]
        return aimed if found else None

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
        if ref.alias is None:
            only = self.versions_of(ref.name)
            if len(only) == 1:
                return self.versions[(ref.name, only[0])]
            raise VersionNotFound(
                f"{ref.name!r} is served as several versions and its latest is not among the "
                "served references, so the bare name is ambiguous",
                hint=f"name one of: {self._listing(ref.name)}",
            )
        raise AliasNotFound(
            f"alias {ref.alias!r} of {ref.name!r} is not served",
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
