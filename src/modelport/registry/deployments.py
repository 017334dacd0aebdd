"""Deployments in the registry: stored specs with a revision, and their audit trail.

Every change (create, set, remove) is one write transaction that updates the row and
appends the event with who, when and why, so the history is complete by construction.
Servers follow a deployment by its ``revision``: a change is one integer to compare.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from modelport.deployments.spec import DeploymentSpec
from modelport.errors import ConflictError, DeploymentNotFound
from modelport.reference import validate_name
from modelport.registry.database import Database
from modelport.registry.tables import DeploymentEventRow, DeploymentRow, ModelRow


@dataclass(frozen=True, slots=True)
class Deployment:
    spec: DeploymentSpec
    revision: int
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.spec.name

    def summary(self) -> dict[str, Any]:
        return {
            **self.spec.to_dict(),
            "revision": self.revision,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DeploymentEvent:
    name: str
    action: str  # create | set | remove
    revision: int
    spec: DeploymentSpec | None
    actor: str
    reason: str | None
    at: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "revision": self.revision,
            "spec": None if self.spec is None else self.spec.to_dict(),
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class DeploymentStore:
    """The deployments of one registry database. ``check_refs`` proves every reference."""

    def __init__(
        self, db: Database, actor: Callable[[], str], check_refs: Callable[[list[str]], None]
    ) -> None:
        self.db = db
        self.actor = actor
        #: raises the registry's error for the first reference that does not resolve
        self.check_refs = check_refs

    def create(
        self, spec: DeploymentSpec, *, reason: str | None = None, actor: str | None = None
    ) -> Deployment:
        """Store a new deployment; its name must be free (of deployments and of models)."""
        self.check_refs(spec.refs())
        with self.db.write() as session:
            if session.scalar(select(DeploymentRow.id).where(DeploymentRow.name == spec.name)):
                raise ConflictError(
                    f"deployment {spec.name!r} already exists",
                    hint=f"change it with `modelport deploy set {spec.name} ...`",
                )
            if session.scalar(select(ModelRow.id).where(ModelRow.name == spec.name)):
                raise ConflictError(
                    f"{spec.name!r} is already a model's name",
                    hint="clients address deployments like models: pick another name",
                )
            now = datetime.now(UTC)
            row = DeploymentRow(name=spec.name, spec=_dump(spec), revision=1, updated_at=now)
            session.add(row)
            self._event(session, spec.name, "create", 1, spec, reason, now, actor)
            return Deployment(spec, 1, now)

    def set(
        self, spec: DeploymentSpec, *, reason: str | None = None, actor: str | None = None
    ) -> Deployment:
        """Replace the traffic policy of an existing deployment (a new revision)."""
        self.check_refs(spec.refs())
        with self.db.write() as session:
            row = self._row(session, spec.name)
            now = datetime.now(UTC)
            row.spec, row.revision, row.updated_at = _dump(spec), row.revision + 1, now
            self._event(session, spec.name, "set", row.revision, spec, reason, now, actor)
            return Deployment(spec, row.revision, now)

    def remove(
        self, name: str, *, reason: str | None = None, actor: str | None = None
    ) -> DeploymentEvent:
        with self.db.write() as session:
            row = self._row(session, validate_name(name, kind="deployment name"))
            now = datetime.now(UTC)
            revision = row.revision + 1
            session.delete(row)
            event = self._event(session, name, "remove", revision, None, reason, now, actor)
            return _record(event)

    def get(self, name: str) -> Deployment:
        with self.db.read() as session:
            row = self._row(session, validate_name(name, kind="deployment name"))
            return Deployment(_load(row.spec), row.revision, _aware(row.updated_at))

    def find(self, name: str) -> Deployment | None:
        """The deployment, or None when ``name`` is not one (a model name, say)."""
        with self.db.read() as session:
            row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
            if row is None:
                return None
            return Deployment(_load(row.spec), row.revision, _aware(row.updated_at))

    def all(self) -> list[Deployment]:
        with self.db.read() as session:
            rows = session.scalars(select(DeploymentRow).order_by(DeploymentRow.name)).all()
            return [Deployment(_load(r.spec), r.revision, _aware(r.updated_at)) for r in rows]

    def history(self, name: str) -> list[DeploymentEvent]:
        """Every change of ``name``, oldest first (also after it was removed)."""
        with self.db.read() as session:
            rows = session.scalars(
                select(DeploymentEventRow)
                .where(DeploymentEventRow.name == validate_name(name, kind="deployment name"))
                .order_by(DeploymentEventRow.id)
            ).all()
            if not rows:
                raise self._missing(session, name)
            return [_record(r) for r in rows]

    def _row(self, session: Any, name: str) -> DeploymentRow:
        row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
        if row is None:
            raise self._missing(session, name)
        return row  # type: ignore[no-any-return]

    def _missing(self, session: Any, name: str) -> DeploymentNotFound:
        known = session.scalars(select(DeploymentRow.name).order_by(DeploymentRow.name)).all()
        return DeploymentNotFound(
            f"no deployment named {name!r}",
            hint=f"deployments: {', '.join(known)}"
            if known
            else "create one with `modelport deploy create NAME --arm REF=WEIGHT`",
        )

    def _event(
        self,
        session: Any,
        name: str,
        action: str,
        revision: int,
        spec: DeploymentSpec | None,
        reason: str | None,
        at: datetime,
        actor: str | None = None,
    ) -> DeploymentEventRow:
        event = DeploymentEventRow(
            name=name,
            action=action,
            revision=revision,
            spec=None if spec is None else _dump(spec),
            actor=actor or self.actor(),  # a server names the key or token that asked
            reason=reason,
            at=at,
        )
        session.add(event)
        return event


def _dump(spec: DeploymentSpec) -> str:
    return json.dumps(spec.to_dict(), sort_keys=True)


def _load(text: str) -> DeploymentSpec:
    return DeploymentSpec.from_dict(json.loads(text))


def _record(row: DeploymentEventRow) -> DeploymentEvent:
    return DeploymentEvent(
        name=row.name,
        action=row.action,
        revision=row.revision,
        spec=None if row.spec is None else _load(row.spec),
        actor=row.actor,
        reason=row.reason,
        at=_aware(row.at),
    )
