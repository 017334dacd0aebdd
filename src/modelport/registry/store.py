"""The registry: models, versions, aliases and their audit trail, over SQLAlchemy.

A version is written in two steps that keep the store consistent under crashes
and concurrent writers: the artifact is first copied to a fresh, never-reused
location; then one database transaction allocates the version number and
records it. If the transaction fails, the artifact is removed again; a crash
in between leaves only an unreferenced directory, never a version without an
artifact.

Why one module of this size: every write of the registry (versions, aliases and the
audit trail) is here, so the transactions and locks that keep them consistent are in
one place; the tables, migrations and artifact storage are their own modules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelport.errors import (
    AliasNotFound,
    ConflictError,
    InvalidArgument,
    ModelNotFound,
    RegistryError,
    VersionNotFound,
)
from modelport.reference import Reference, parse, validate_alias, validate_name
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.audit import AuditLog
from modelport.registry.canaries import CanaryStore
from modelport.registry.database import Database
from modelport.registry.deployments import DeploymentStore
from modelport.registry.encryption import ArtifactCipher
from modelport.registry.keys import KeyStore
from modelport.registry.records import AliasEvent, ModelInfo, ModelVersion, rollback_target
from modelport.registry.tables import AliasEventRow, AliasRow, ModelRow, TagRow, VersionRow
from modelport.settings import Settings

_RETRIES = 8


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone-aware columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Registry:
    """The model registry. Build one per process from :class:`Settings`.

    The settings are required: they are built once at the entry point (the CLI, the
    server, the Python API's functions) and passed down, never defaulted here.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(self.settings.resolved_registry_uri())
        self.artifacts = ArtifactStore(
            self.settings.resolved_artifact_uri(),
            self.settings.cache_dir(),
            cipher=ArtifactCipher.from_setting(self.settings.artifact_key),
        )
        #: named endpoints with a traffic policy; their references must resolve here
        self.deployments = DeploymentStore(self.db, settings.actor, self._check_refs)
        #: automated rollouts of deployments, step by step
        self.canaries = CanaryStore(self.db, settings.actor)
        #: API keys with roles (only their hashes are stored)
        self.keys = KeyStore(self.db, settings.actor)
        #: the security audit trail: keys made and revoked, credentials refused
        self.audit = AuditLog(self.db, settings.actor)

    def _check_refs(self, refs: list[str]) -> None:
        """Every reference resolves to a registered version (raises the first that does not)."""
        for ref in refs:
            version = self.resolve(ref).version
            assert version is not None
            with self.db.read() as session:
                model = self._model(session, parse(ref).name)
                exists = session.scalar(
                    select(VersionRow.id).where(
                        VersionRow.model_id == model.id, VersionRow.version == version
                    )
                )
            if exists is None:
                raise VersionNotFound(
                    f"{ref}: version {version} is not registered",
                    hint=f"see `modelport models show {parse(ref).name}`",
                )

    def close(self) -> None:
        self.db.dispose()

    # -- writing versions -------------------------------------------------------------

    def create_version(
        self,
        name: str,
        artifact_dir: Path,
        *,
        flavor: str,
        flavor_options: dict[str, Any],
        artifact_sha256: str,
        artifact_size: int,
        signature: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        git_sha: str | None = None,
        data_sha256: str | None = None,
        parent_version: int | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Store the artifact and record a new version with the next free number."""
        validate_name(name)
        metrics = _check_metrics(metrics or {})
        tags = _check_tags(tags or {})
        uri = self.artifacts.put(artifact_dir, name)
        try:
            version = self._insert_version(
                name,
                flavor=flavor,
                flavor_options=json.dumps(flavor_options),
                signature=json.dumps(signature) if signature is not None else None,
                profile=json.dumps(profile) if profile is not None else None,
                metrics=json.dumps(metrics),
                artifact_uri=uri,
                artifact_sha256=artifact_sha256,
                artifact_size=artifact_size,
                git_sha=git_sha,
                data_sha256=data_sha256,
                parent_version=parent_version,
                description=description,
                tags=tags,
            )
        except BaseException:
            self.artifacts.delete(uri)
            raise
        return self.get(Reference(name, version=version))

    def _insert_version(self, name: str, *, tags: dict[str, str], **fields: Any) -> int:
        last_error: Exception | None = None
        for _ in range(_RETRIES):
            try:
                with self.db.write() as session:
                    model = session.scalar(
                        select(ModelRow).where(ModelRow.name == name).with_for_update()
                    )
                    if model is None:
                        model = ModelRow(name=name, created_at=_now())
                        session.add(model)
                        session.flush()
                    latest = session.scalar(
                        select(func.max(VersionRow.version)).where(VersionRow.model_id == model.id)
                    )
                    parent = fields.get("parent_version")
                    if parent is not None and (latest is None or not 1 <= parent <= latest):
                        raise VersionNotFound(
                            f"parent version {name}:{parent} does not exist",
                            hint=f"existing versions of {name!r} are 1..{latest or 0}",
                        )
                    row = VersionRow(
                        model_id=model.id,
                        version=(latest or 0) + 1,
                        created_by=self.settings.actor(),
                        created_at=_now(),
                        **fields,
                    )
                    session.add(row)
                    session.flush()
                    session.add_all(
                        TagRow(version_id=row.id, key=k, value=v) for k, v in tags.items()
                    )
                    return row.version
            except IntegrityError as exc:  # a concurrent writer took the name or number first
                last_error = exc
        raise RegistryError(
            f"could not allocate a version of {name!r} after {_RETRIES} attempts: {last_error}",
            hint="the registry is under heavy concurrent writes; try again",
        )

    def import_version(self, record: ModelVersion, artifact_uri: str) -> ModelVersion:
        """Record ``record`` under its own number with the artifact already at ``artifact_uri``.

        For a packaged container: its image holds the artifacts of versions registered
        elsewhere, and its registry must know them by the same ``name:N`` clients use.
        Importing the same version again (same sha256) returns the stored one; a different
        artifact under that number is a conflict. The artifact is not copied; its sha256 is
        checked when it is loaded, as for every version.
        """
        name = validate_name(record.name)
        with self.db.write() as session:
            model = session.scalar(select(ModelRow).where(ModelRow.name == name).with_for_update())
            if model is None:
                model = ModelRow(name=name, description=None, created_at=_now())
                session.add(model)
                session.flush()
            existing = session.scalar(
                select(VersionRow).where(
                    VersionRow.model_id == model.id, VersionRow.version == record.version
                )
            )
            if existing is not None:
                if existing.artifact_sha256 != record.artifact_sha256:
                    raise ConflictError(
                        f"{name}:{record.version} is registered here with another artifact "
                        f"(sha256 {existing.artifact_sha256[:12]}..., the import has "
                        f"{record.artifact_sha256[:12]}...)",
                        hint="import into a registry of its own, or package that version",
                    )
            else:
                row = VersionRow(
                    model_id=model.id,
                    version=record.version,
                    flavor=record.flavor,
                    flavor_options=json.dumps(record.flavor_options),
                    signature=None if record.signature is None else json.dumps(record.signature),
                    profile=None if record.profile is None else json.dumps(record.profile),
                    metrics=json.dumps(_check_metrics(record.metrics)),
                    artifact_uri=artifact_uri,
                    artifact_sha256=record.artifact_sha256,
                    artifact_size=record.artifact_size,
                    git_sha=record.git_sha,
                    data_sha256=record.data_sha256,
                    parent_version=record.parent_version,
                    description=record.description,
                    created_by=record.created_by,
                    created_at=_aware(record.created_at),
                )
                session.add(row)
                session.flush()
                session.add_all(
                    TagRow(version_id=row.id, key=k, value=v)
                    for k, v in _check_tags(record.tags).items()
                )
        return self.get(Reference(name, version=record.version))

    # -- reading ----------------------------------------------------------------------

    def get(self, ref: str | Reference) -> ModelVersion:
        """Resolve ``name``, ``name:3`` or ``name@alias`` to a version."""
        ref = parse(ref)
        with self.db.read() as session:
            model = self._model(session, ref.name)
            version = self._resolve(session, model, ref)
            row = session.scalar(
                select(VersionRow).where(
                    VersionRow.model_id == model.id, VersionRow.version == version
                )
            )
            if row is None:
                raise VersionNotFound(
                    f"{ref.name}:{version} does not exist",
                    hint=f"see the versions with: modelport models show {ref.name}",
                )
            return self._record(session, model, row)

    def resolve(self, ref: str | Reference) -> Reference:
        """The exact ``name:version`` a reference points to now."""
        ref = parse(ref)
        with self.db.read() as session:
            model = self._model(session, ref.name)
            return Reference(ref.name, version=self._resolve(session, model, ref))

    def _model(self, session: Session, name: str) -> ModelRow:
        model = session.scalar(select(ModelRow).where(ModelRow.name == name))
        if model is None:
            known = session.scalars(select(ModelRow.name).order_by(ModelRow.name).limit(10)).all()
            hint = f"registered models: {', '.join(known)}" if known else "no model is registered"
            raise ModelNotFound(f"no model named {name!r}", hint=hint)
        return model

    def _resolve(self, session: Session, model: ModelRow, ref: Reference) -> int:
        if ref.version is not None:
            return ref.version
        if ref.alias is not None:
            version = session.scalar(
                select(AliasRow.version).where(
                    AliasRow.model_id == model.id, AliasRow.alias == ref.alias
                )
            )
            if version is None:
                aliases = session.scalars(
                    select(AliasRow.alias).where(AliasRow.model_id == model.id)
                ).all()
                raise AliasNotFound(
                    f"model {model.name!r} has no alias {ref.alias!r}",
                    hint=f"its aliases: {', '.join(aliases) or 'none'}; "
                    f"set one with: modelport alias set {model.name}:N {ref.alias}",
                )
            return version
        latest = session.scalar(
            select(func.max(VersionRow.version)).where(VersionRow.model_id == model.id)
        )
        if latest is None:
            raise VersionNotFound(f"model {model.name!r} has no versions")
        return latest

    def _record(self, session: Session, model: ModelRow, row: VersionRow) -> ModelVersion:
        tags = dict(
            session.execute(
                select(TagRow.key, TagRow.value).where(TagRow.version_id == row.id)
            ).all()
        )
        aliases = session.scalars(
            select(AliasRow.alias)
            .where(AliasRow.model_id == model.id, AliasRow.version == row.version)
            .order_by(AliasRow.alias)
        ).all()
        return ModelVersion(
            name=model.name,
            version=row.version,
            flavor=row.flavor,
            flavor_options=json.loads(row.flavor_options),
            signature=json.loads(row.signature) if row.signature else None,
            profile=json.loads(row.profile) if row.profile else None,
            metrics=json.loads(row.metrics),
            tags=tags,
            artifact_uri=row.artifact_uri,
            artifact_sha256=row.artifact_sha256,
            artifact_size=row.artifact_size,
            git_sha=row.git_sha,
            data_sha256=row.data_sha256,
            parent_version=row.parent_version,
            description=row.description,
            created_by=row.created_by,
            created_at=_aware(row.created_at),
            aliases=list(aliases),
        )

    def list_models(self) -> list[ModelInfo]:
        with self.db.read() as session:
            stats = dict(
                (mid, (latest, count))
                for mid, latest, count in session.execute(
                    select(
                        VersionRow.model_id, func.max(VersionRow.version), func.count()
                    ).group_by(VersionRow.model_id)
                ).all()
            )
            aliases: dict[int, dict[str, int]] = {}
            for mid, alias, version in session.execute(
                select(AliasRow.model_id, AliasRow.alias, AliasRow.version)
            ).all():
                aliases.setdefault(mid, {})[alias] = version
            return [
                ModelInfo(
                    name=m.name,
                    description=m.description,
                    created_at=_aware(m.created_at),
                    latest_version=stats.get(m.id, (None, 0))[0],
                    version_count=stats.get(m.id, (None, 0))[1],
                    aliases=dict(sorted(aliases.get(m.id, {}).items())),
                )
                for m in session.scalars(select(ModelRow).order_by(ModelRow.name))
            ]

    def list_versions(self, name: str) -> list[ModelVersion]:
        with self.db.read() as session:
            model = self._model(session, validate_name(name))
            rows = session.scalars(
                select(VersionRow)
                .where(VersionRow.model_id == model.id)
                .order_by(VersionRow.version)
            ).all()
            return [self._record(session, model, row) for row in rows]

    def search(
        self,
        text: str | None = None,
        *,
        tags: dict[str, str] | None = None,
        flavor: str | None = None,
    ) -> list[ModelVersion]:
        """Versions whose model name contains ``text`` and that carry every tag in ``tags``."""
        with self.db.read() as session:
            query = select(ModelRow, VersionRow).join(
                VersionRow, VersionRow.model_id == ModelRow.id
            )
            if text:
                query = query.where(ModelRow.name.contains(text, autoescape=True))
            if flavor:
                query = query.where(VersionRow.flavor == flavor)
            for key, value in (tags or {}).items():
                tagged = select(TagRow.version_id).where(TagRow.key == key, TagRow.value == value)
                query = query.where(VersionRow.id.in_(tagged))
            rows = session.execute(query.order_by(ModelRow.name, VersionRow.version)).all()
            return [self._record(session, model, row) for model, row in rows]

    # -- aliases ----------------------------------------------------------------------

    def set_alias(
        self,
        ref: str | Reference,
        alias: str,
        *,
        reason: str | None = None,
        action: str = "set",
    ) -> AliasEvent:
        """Point ``alias`` at the version ``ref`` resolves to, and record the move."""
        ref = parse(ref)
        validate_alias(alias)
        with self.db.write() as session:
            model = self._model(session, ref.name)
            target = self._resolve(session, model, ref)
            exists = session.scalar(
                select(VersionRow.id).where(
                    VersionRow.model_id == model.id, VersionRow.version == target
                )
            )
            if exists is None:
                raise VersionNotFound(f"{ref.name}:{target} does not exist")
            return self._move(session, model, alias, target, action, reason)

    def _move(
        self,
        session: Session,
        model: ModelRow,
        alias: str,
        target: int | None,
        action: str,
        reason: str | None,
    ) -> AliasEvent:
        row = session.get(AliasRow, (model.id, alias), with_for_update=True)
        previous = row.version if row else None
        now = _now()
        if target is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(AliasRow(model_id=model.id, alias=alias, version=target, updated_at=now))
        else:
            row.version = target
            row.updated_at = now
        event = AliasEventRow(
            model_id=model.id,
            alias=alias,
            action=action,
            from_version=previous,
            to_version=target,
            actor=self.settings.actor(),
            reason=reason,
            at=now,
        )
        session.add(event)
        return _event(model.name, event)

    def promote(
        self, source: str | Reference, alias: str, *, reason: str | None = None
    ) -> AliasEvent:
        """Move ``alias`` to the version ``source`` resolves to (e.g. staging -> production)."""
        return self.set_alias(source, alias, reason=reason, action="promote")

    def remove_alias(self, name: str, alias: str, *, reason: str | None = None) -> AliasEvent:
        validate_alias(alias)
        with self.db.write() as session:
            model = self._model(session, validate_name(name))
            if session.get(AliasRow, (model.id, alias)) is None:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
            return self._move(session, model, alias, None, "remove", reason)

    def rollback(self, name: str, alias: str, *, reason: str | None = None) -> AliasEvent:
        """Move ``alias`` back to the version it pointed to before its last move."""
        validate_alias(alias)
        with self.db.write() as session:
            model = self._model(session, validate_name(name))
            if session.get(AliasRow, (model.id, alias), with_for_update=True) is None:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
            events = [_event(name, e) for e in self._events(session, model, alias)]
            target = rollback_target(events)
            if target is None:
                raise ConflictError(
                    f"{name}@{alias} has no earlier version to roll back to",
                    hint=f"see its history with: modelport history {name} --alias {alias}",
                )
            return self._move(session, model, alias, target, "rollback", reason)

    def _events(
        self, session: Session, model: ModelRow, alias: str | None
    ) -> Iterable[AliasEventRow]:
        query = select(AliasEventRow).where(AliasEventRow.model_id == model.id)
        if alias is not None:
            query = query.where(AliasEventRow.alias == alias)
        return session.scalars(query.order_by(AliasEventRow.id)).all()

    def history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The audit trail of alias moves of a model, oldest first."""
        with self.db.read() as session:
            model = self._model(session, validate_name(name))
            return [_event(name, e) for e in self._events(session, model, alias)]

    def aliases(self, name: str) -> dict[str, int]:
        with self.db.read() as session:
            model = self._model(session, validate_name(name))
            rows = session.execute(
                select(AliasRow.alias, AliasRow.version).where(AliasRow.model_id == model.id)
            ).all()
            return dict(sorted(rows))


def _event(name: str, row: AliasEventRow) -> AliasEvent:
    return AliasEvent(
        name=name,
        alias=row.alias,
        action=row.action,
        from_version=row.from_version,
        to_version=row.to_version,
        actor=row.actor,
        reason=row.reason,
        at=_aware(row.at),
    )


def _check_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidArgument(
                f"metric {key!r} is {value!r}, not a number", hint="metrics are name -> number"
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidArgument(f"metric {key!r} is {value!r}", hint="metrics must be finite")
        out[str(key)] = number
    return out


def _check_tags(tags: dict[str, Any]) -> dict[str, str]:
    for key in tags:
        if not isinstance(key, str) or not key or len(key) > 128:
            raise InvalidArgument(f"invalid tag key {key!r}", hint="tag keys are 1-128 characters")
    return {k: str(v) for k, v in tags.items()}
