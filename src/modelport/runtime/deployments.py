"""The deployments a server answers for: which arm takes a request, which shadows copy it.

The specs come from the registry at start and are re-read on every alias poll; a new
revision's references are loaded (in the poll's thread) before the spec is swapped in on
the event loop, so a change is followed without a restart and without a failed request.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from modelport.deployments.routing import choose_arm, chosen_shadows, key_draw
from modelport.deployments.spec import DeploymentSpec
from modelport.reference import Reference, parse
from modelport.registry import Registry
from modelport.runtime.pool import ModelPool, ServedVersion

log = logging.getLogger("modelport.serving")


@dataclass(frozen=True)
class Routed:
    """The version that answers, and the deployment context when one routed the request."""

    served: ServedVersion
    deployment: str | None = None
    key: str | None = None
    shadows: tuple[ServedVersion, ...] = ()


class DeploymentRouter:
    """Deployment name -> its spec and revision; chooses arms and shadows per request."""

    def __init__(self, registry: Registry, pool: ModelPool, names: tuple[str, ...]) -> None:
        self.registry = registry
        self.pool = pool
        self.names = names
        self.specs: dict[str, DeploymentSpec] = {}
        self.revisions: dict[str, int] = {}
        self._parsed: dict[str, tuple[list[Reference], list[Reference]]] = {}

    def refs(self) -> list[str]:
        """(Blocking) read every deployment; the references the server must load."""
        refs: list[str] = []
        for name in self.names:
            deployment = self.registry.deployments.get(name)
            self._remember(deployment.spec)
            self.revisions[name] = deployment.revision
            refs += deployment.spec.refs()
        return refs

    def sticky_kind(self, name: str) -> str | None:
        spec = self.specs.get(name)
        return None if spec is None or spec.sticky is None else spec.sticky.kind

    def route(self, ref: Reference, key_of: Callable[[DeploymentSpec], str | None]) -> Routed:
        """The arm (and shadows) for a request to a deployment, or the model as before.

        ``key_of`` reads the request's sticky key for a spec (a header or a field).
        """
        spec = (
            self.specs.get(ref.name)
            if self.specs and ref.version is None and ref.alias is None
            else None
        )
        if spec is None:
            return Routed(self.pool.route(ref))
        key = key_of(spec) if spec.sticky is not None else None
        draw = key_draw(spec.name, key) if key is not None else random.random()
        arms, shadow_refs = self._parsed[spec.name]
        shadows: tuple[ServedVersion, ...] = ()
        if spec.shadows:
            shadow_draws = [random.random() for _ in spec.shadows]
            shadows = tuple(
                self.pool.route(shadow_refs[i]) for i in chosen_shadows(spec, shadow_draws)
            )
        return Routed(self.pool.route(arms[choose_arm(spec, draw)]), spec.name, key, shadows)

    def _remember(self, spec: DeploymentSpec) -> None:
        """Keep the spec with its references parsed once (routing reads them per request)."""
        self._parsed[spec.name] = (
            [parse(arm.ref) for arm in spec.arms],
            [parse(shadow.ref) for shadow in spec.shadows],
        )
        self.specs[spec.name] = spec

    def control(self, ref: Reference) -> ServedVersion | None:
        """A deployment's first arm (what describes it: its inputs and outputs), or None."""
        spec = self.specs.get(ref.name) if ref.version is None and ref.alias is None else None
        return None if spec is None else self.pool.route(parse(spec.arms[0].ref))

    def ready(self, ref: Reference) -> bool | None:
        """Whether every arm of the deployment can answer (None: ``ref`` is no deployment)."""
        spec = self.specs.get(ref.name) if ref.version is None and ref.alias is None else None
        if spec is None:
            return None
        for arm in spec.arms:
            self.pool.route(parse(arm.ref))  # raises the 404 naming what is missing
        return True

    async def poll_once(self) -> None:
        """Follow changed deployments: load their new references, then swap the specs."""
        changed = await asyncio.to_thread(self._changed)
        for name, (spec, revision) in changed.items():
            previous = self.specs.get(name)
            self._remember(spec)
            self.revisions[name] = revision
            log.info("deployment %s: revision %d (was %s)", name, revision, previous)

    def _changed(self) -> Mapping[str, tuple[DeploymentSpec, int]]:
        out: dict[str, tuple[DeploymentSpec, int]] = {}
        for name in self.names:
            found = self.registry.deployments.find(name)
            if found is None or found.revision == self.revisions.get(name):
                continue  # a removed deployment keeps its last policy until restarted
            self.pool.add_refs([parse(r) for r in found.spec.refs() if not self._served(r)])
            out[name] = (found.spec, found.revision)
        return out

    def _served(self, ref: str) -> bool:
        try:
            self.pool.route(parse(ref))
        except Exception:
            return False
        return True
