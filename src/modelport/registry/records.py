"""What the registry returns: plain, immutable records (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelport.reference import Reference


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One immutable registered version of a model."""

    name: str
    version: int
    flavor: str
    flavor_options: dict[str, Any]
    signature: dict[str, Any] | None
    profile: dict[str, Any] | None
    metrics: dict[str, float]
    tags: dict[str, str]
    artifact_uri: str
    artifact_sha256: str
    artifact_size: int
    git_sha: str | None
    data_sha256: str | None
    parent_version: int | None
    description: str | None
    created_by: str
    created_at: datetime
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> Reference:
        return Reference(self.name, version=self.version)

    def summary(self) -> dict[str, Any]:
        """The JSON-able view used by ``--json`` and the admin API (no large documents)."""
        return {
            "name": self.name,
            "version": self.version,
            "flavor": self.flavor,
            "aliases": self.aliases,
            "metrics": self.metrics,
            "tags": self.tags,
            "artifact_uri": self.artifact_uri,
            "artifact_sha256": self.artifact_sha256,
            "artifact_size": self.artifact_size,
            "git_sha": self.git_sha,
            "data_sha256": self.data_sha256,
            "parent_version": self.parent_version,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "features": [f["name"] for f in (self.signature or {}).get("inputs", [])],
        }


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model and an overview of its versions."""

    name: str
    description: str | None
    created_at: datetime
    latest_version: int | None
    version_count: int
    aliases: dict[str, int]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "latest_version": self.latest_version,
            "versions": self.version_count,
            "aliases": self.aliases,
        }


@dataclass(frozen=True, slots=True)
class AliasEvent:
    """One entry of the audit trail."""

    name: str
    alias: str
    action: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str | None
    at: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "alias": self.alias,
            "action": self.action,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


def rollback_target(events: list[AliasEvent]) -> int | None:
    """The version an alias returns to on rollback, from its events in time order.

    Set and promote push a version, rollback pops one, remove clears: so repeated
    rollbacks walk further back instead of flipping between two versions.
    """
    stack: list[int] = []
    for event in events:
        if event.action == "rollback":
            if stack:
                stack.pop()
        elif event.action == "remove":
            stack.clear()
        elif event.to_version is not None and (not stack or stack[-1] != event.to_version):
            stack.append(event.to_version)
    return stack[-2] if len(stack) >= 2 else None
