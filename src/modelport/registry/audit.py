"""The security audit trail: who made or revoked a key, which credentials were refused, when.

Events are appended, never changed. Secrets never enter it: an event whose target or detail
holds anything shaped like a key is refused whole, so a caller that logs the wrong value
fails loudly instead of leaking quietly. Key ids (the 12 characters after ``mpk_``) are fine.

    >>> registry.audit.append("auth.refused", target="key:3f9a0c1d2e4b", detail={"why": "revoked"})
    >>> [e.action for e in registry.audit.list(action="auth")]
    ['auth.refused']
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from modelport.errors import InvalidArgument
from modelport.registry.database import Database
from modelport.registry.tables import AuditEventRow
from modelport.security.keys import KEY_LIKE

_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
#: a detail is a few facts about one event, not a payload
_MAX_DETAIL = 16_384
_MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event. ``id`` is None until it is stored (a server's buffer holds such events)."""

    at: datetime
    actor: str
    action: str  # key.create | key.revoke | auth.refused | auth.forbidden | ...
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; PostgreSQL answers in the session's time zone
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class AuditLog:
    """The audit events of one registry database; ``actor`` names who acts by default."""

    def __init__(self, db: Database, actor: Callable[[], str]) -> None:
        self.db = db
        self.actor = actor

    def append(
        self,
        action: str,
        *,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> None:
        event = AuditEvent(datetime.now(UTC), actor or self.actor(), action, target, detail or {})
        self.append_many([event])

    def append_many(self, events: Sequence[AuditEvent]) -> None:
        """Store every event in one transaction, or (one of them refused) none of them."""
        rows = [_row(event) for event in events]  # all checked before anything is written
        if not rows:
            return
        with self.db.write() as session:
            session.add_all(rows)

    def list(
        self, *, action: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> builtins.list[AuditEvent]:
        """The newest ``limit`` events, newest first. ``action="key"`` is every ``key.*``."""
        if not 1 <= limit <= _MAX_LIMIT:
            raise InvalidArgument(
                f"limit {limit} is out of range", hint=f"ask for 1 to {_MAX_LIMIT} events"
            )
        query = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
        if action is not None:
            _check_action(action)
            query = query.where(
                or_(
                    AuditEventRow.action == action,
                    AuditEventRow.action.startswith(f"{action}.", autoescape=True),
                )
            )
        if since is not None:
            query = query.where(AuditEventRow.at >= _aware(since))
        with self.db.read() as session:
            return [_event(row) for row in session.scalars(query).all()]


def add_event(session: Session, event: AuditEvent) -> None:
    """Append ``event`` inside the caller's transaction (a key and its event commit together)."""
    session.add(_row(event))


def _check_action(action: str) -> str:
    if not isinstance(action, str) or len(action) > 64 or not _ACTION.fullmatch(action):
        raise InvalidArgument(
            f"invalid audit action {str(action)[:70]!r}",
            hint="lowercase words joined by dots, e.g. key.create or auth.refused",
        )
    return action


def _row(event: AuditEvent) -> AuditEventRow:
    try:
        detail = json.dumps(event.detail, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            f"an audit detail must be JSON: {exc}", hint="give strings, numbers, lists, dicts"
        ) from exc
    # first, so that no error message below echoes a key it was handed
    for text in (event.action, event.actor, event.target or "", detail):
        if KEY_LIKE.search(str(text)):
            raise InvalidArgument(
                "an audit event may not contain an API key (its secret would be stored)",
                hint="record the key's id (the 12 characters after mpk_), never the key",
            )
    _check_action(event.action)
    if not isinstance(event.actor, str) or not 1 <= len(event.actor) <= 128:
        raise InvalidArgument(
            "an audit actor is 1 to 128 characters",
            hint="name the user or the key id, not a whole credential",
        )
    if event.target is not None and len(event.target) > 256:
        raise InvalidArgument(
            "an audit target is at most 256 characters", hint="name the object, e.g. key:ID"
        )
    if not isinstance(event.detail, dict):
        raise InvalidArgument("an audit detail is a JSON object", hint="give a dict")
    if len(detail) > _MAX_DETAIL:
        raise InvalidArgument(
            f"an audit detail is at most {_MAX_DETAIL} characters of JSON",
            hint="record a few facts about the event, not its payload",
        )
    return AuditEventRow(
        at=_aware(event.at),
        actor=event.actor,
        action=event.action,
        target=event.target,
        detail=detail,
    )


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        at=_aware(row.at),
        actor=row.actor,
        action=row.action,
        target=row.target,
        detail=json.loads(row.detail),
        id=row.id,
    )
