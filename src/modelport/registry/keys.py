"""API keys in the registry: made, listed, looked up by id, revoked; each change audited.

Only the slow salted hash of a key is stored (:mod:`modelport.security.keys`); the key itself
is returned once by :meth:`KeyStore.create` and nowhere else. Every create and revoke is one
write transaction with its audit event, so the trail is complete by construction. Servers
follow revocations by polling :meth:`KeyStore.revision`, one cheap query.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from modelport.errors import ConflictError, InvalidArgument, NotFoundError
from modelport.reference import validate_name
from modelport.registry.audit import AuditEvent, add_event
from modelport.registry.database import Database
from modelport.registry.tables import ApiKeyRow
from modelport.security.keys import (
    KEY_LIKE,
    ApiKey,
    Role,
    hash_key,
    is_key_id,
    key_id,
    new_key,
    parse_roles,
)

_MAX_DESCRIPTION = 500


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; PostgreSQL answers in the session's time zone
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class KeyStore:
    """The API keys of one registry database; ``actor`` names who creates and revokes."""

    def __init__(self, db: Database, actor: Callable[[], str]) -> None:
        self.db = db
        self.actor = actor

    def create(
        self,
        roles: Iterable[str],
        *,
        models: Iterable[str] = (),
        expires_at: datetime | None = None,
        description: str | None = None,
        key: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key with ``roles``, for ``models`` (empty: all), until ``expires_at`` (None:
        until revoked). Returns the record and the key, which is shown once and not kept.

        ``key`` stores a key made elsewhere (by :func:`~modelport.security.keys.new_key`)
        instead of a fresh one: a packaged container brings its keys from a mounted secret.
        """
        checked_roles = parse_roles(roles)
        if isinstance(models, str):
            raise InvalidArgument(
                f"models are a list, not the string {models[:40]!r}", hint='write e.g. ["churn"]'
            )
        checked_models = tuple(dict.fromkeys(validate_name(m) for m in models))
        now = datetime.now(UTC)
        if expires_at is not None:
            expires_at = _aware(expires_at)
            if expires_at <= now:
                raise InvalidArgument(
                    f"expiry {expires_at.isoformat()} is not in the future",
                    hint="give a time after now, e.g. --expires 30d",
                )
        _check_text("description", description)
        if key is None:
            identifier, key = new_key()
        else:
            given = key_id(key)
            if given is None:
                raise InvalidArgument(
                    "the given API key is not shaped like one (mpk_<id>_<secret>)",
                    hint="make keys with `modelport keys create` or security.keys.new_key()",
                )
            identifier = given
        key_hash = hash_key(key)  # a slow hash: made before the write lock is taken
        with self.db.write() as session:
            if session.get(ApiKeyRow, identifier) is not None:  # 48 random bits: once in ages
                raise ConflictError(
                    f"the new key's random id {identifier} is taken", hint="run it again"
                )
            actor = self.actor()
            row = ApiKeyRow(
                id=identifier,
                roles=json.dumps(list(checked_roles)),
                models=json.dumps(list(checked_models)),
                description=description,
                key_hash=key_hash,
                created_by=actor,
                created_at=now,
                expires_at=expires_at,
            )
            session.add(row)
            record = _record(row)
            detail = {k: v for k, v in record.summary(now).items() if k in _CREATE_DETAIL}
            add_event(session, AuditEvent(now, actor, "key.create", f"key:{identifier}", detail))
            return record, key

    def get(self, identifier: str) -> ApiKey:
        with self.db.read() as session:
            return _record(self._row(session, identifier))

    def lookup(self, identifier: str) -> tuple[ApiKey, str] | None:
        """The key's record and stored hash, for a server to verify a presented key; None
        when there is no such key (including when ``identifier`` is no id at all)."""
        if not is_key_id(identifier):
            return None
        with self.db.read() as session:
            row = session.get(ApiKeyRow, identifier)
            return None if row is None else (_record(row), row.key_hash)

    def list(self, *, include_revoked: bool = True) -> builtins.list[ApiKey]:
        """Every key, oldest first."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        with self.db.read() as session:
            return [_record(row) for row in session.scalars(query).all()]

    def revoke(self, identifier: str, *, reason: str | None = None) -> ApiKey:
        """Revoke a key for good; servers refuse it from their next poll of :meth:`revision`."""
        _check_text("reason", reason)
        with self.db.write() as session:
            row = self._row(session, identifier)
            if row.revoked_at is not None:
                raise ConflictError(
                    f"API key {row.id} was already revoked at "
                    f"{_aware(row.revoked_at).isoformat()} by {row.revoked_by}",
                    hint="a revoked key stays revoked; make a new one with modelport keys create",
                )
            now = datetime.now(UTC)
            actor = self.actor()
            row.revoked_at, row.revoked_by, row.revoke_reason = now, actor, reason
            add_event(
                session,
                AuditEvent(now, actor, "key.revoke", f"key:{row.id}", {"reason": reason}),
            )
            return _record(row)

    def revision(self) -> tuple[int, int]:
        """(keys, revoked keys): changes on every create and revoke (keys are never deleted).

        Expiry needs no revision: a server compares ``expires_at`` with its clock itself.
        """
        with self.db.read() as session:
            made, revoked = session.execute(
                select(func.count(ApiKeyRow.id), func.count(ApiKeyRow.revoked_at))
            ).one()
            return int(made), int(revoked)

    def _row(self, session: Any, identifier: str) -> ApiKeyRow:
        row = session.get(ApiKeyRow, identifier) if is_key_id(identifier) else None
        if row is None:
            raise _missing(identifier)
        return row  # type: ignore[no-any-return]


_CREATE_DETAIL = ("roles", "models", "expires_at", "description")


def _missing(identifier: str) -> NotFoundError:
    text = str(identifier)
    found = KEY_LIKE.search(text)
    if found is not None:  # never echo a key into an error message (and so into logs)
        inside = key_id(found.group(0))
        return NotFoundError(
            "that looks like a whole API key, not a key's id",
            hint=f"its id is {inside}" if inside else "the id is the 12 characters after mpk_",
        )
    return NotFoundError(f"no API key {text[:40]!r}", hint="modelport keys list")


def _check_text(what: str, text: str | None) -> None:
    if text is None:
        return
    if len(text) > _MAX_DESCRIPTION:
        raise InvalidArgument(
            f"the {what} is at most {_MAX_DESCRIPTION} characters", hint="say it shorter"
        )
    if KEY_LIKE.search(text):
        raise InvalidArgument(
            f"the {what} contains an API key, which would be stored in the clear",
            hint="name a key by its id (the 12 characters after mpk_)",
        )


def _record(row: ApiKeyRow) -> ApiKey:
    roles: tuple[Role, ...] = tuple(json.loads(row.roles))
    return ApiKey(
        id=row.id,
        roles=roles,
        models=tuple(json.loads(row.models)),
        description=row.description,
        created_by=row.created_by,
        created_at=_aware(row.created_at),
        expires_at=None if row.expires_at is None else _aware(row.expires_at),
        revoked_at=None if row.revoked_at is None else _aware(row.revoked_at),
    )
