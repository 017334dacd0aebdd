"""The registry's tables (SQLAlchemy 2). Alembic migrations in ``migrations/`` create them.

Large JSON documents (signature, reference profile) are stored as text: they are
read whole, never queried inside, and text behaves the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_versions_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    flavor: Mapped[str] = mapped_column(String(32), nullable=False)
    flavor_options: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    signature: Mapped[str | None] = mapped_column(Text)  # JSON
    profile: Mapped[str | None] = mapped_column(Text)  # JSON
    metrics: Mapped[str] = mapped_column(Text, nullable=False)  # JSON {name: float}
    artifact_uri: Mapped[str] = mapped_column(Text, nullable=False)
    artifact_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    artifact_size: Mapped[int] = mapped_column(Integer, nullable=False)
    git_sha: Mapped[str | None] = mapped_column(String(64))
    data_sha256: Mapped[str | None] = mapped_column(String(64))
    parent_version: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class TagRow(Base):
    __tablename__ = "tags"

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


Index("ix_tags_key_value", TagRow.key, TagRow.value)


class AliasRow(Base):
    __tablename__ = "aliases"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AliasEventRow(Base):
    """The audit trail: every alias move, who made it, when, from what, to what, and why."""

    __tablename__ = "alias_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), nullable=False)
    alias: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # set|promote|rollback|remove
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


Index("ix_alias_events_model_alias", AliasEventRow.model_id, AliasEventRow.alias)


class DeploymentRow(Base):
    """A named endpoint and its traffic policy (the spec, as JSON)."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    spec: Mapped[str] = mapped_column(Text, nullable=False)  # JSON DeploymentSpec
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DeploymentEventRow(Base):
    """The audit trail of deployments: every create, change and removal, who, when, why."""

    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # create|set|remove
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    spec: Mapped[str | None] = mapped_column(Text)  # JSON; None after a removal
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


Index("ix_deployment_events_name", DeploymentEventRow.name)


class CanaryRow(Base):
    """A deployment's canary: its plan and where it stands (one per deployment at a time)."""

    __tablename__ = "canaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128), nullable=False)
    plan: Mapped[str] = mapped_column(Text, nullable=False)  # JSON CanaryPlan
    step_index: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    #: when the current step began: its window of traffic starts here
    step_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    verdicts: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list, oldest first
    started_by: Mapped[str] = mapped_column(String(128), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


Index("ix_canaries_deployment", CanaryRow.deployment)


class ApiKeyRow(Base):
    """An API key: its roles and model scope, and the slow salted hash (never the key)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the id inside the key
    roles: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of roles
    models: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list; [] = every model
    description: Mapped[str | None] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(128))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class AuditEventRow(Base):
    """The security audit trail: keys made and revoked, credentials refused, who and when."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)  # key.create, auth.refused
    target: Mapped[str | None] = mapped_column(String(256))
    detail: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object


Index("ix_audit_events_at", AuditEventRow.at)
Index("ix_audit_events_action", AuditEventRow.action)
