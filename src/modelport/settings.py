"""Settings: inert data, built once at the entry point and passed down.

Every field can be set from the environment with the ``MODELPORT_`` prefix,
e.g. ``MODELPORT_HOME=/srv/modelport`` or
``MODELPORT_REGISTRY_URI=postgresql+psycopg://user@db/modelport``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where modelport keeps things and how it behaves."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    home: Path = Field(
        default=Path("~/.modelport"),
        description="Root for the embedded defaults: registry.db, artifacts/, logs/, cache/.",
    )
    registry_uri: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the registry metadata store; "
        "default sqlite:///<home>/registry.db.",
    )
    artifact_uri: str | None = Field(
        default=None,
        description="Directory or fsspec URL (s3://, gs://, memory://) for artifacts; "
        "default <home>/artifacts.",
    )
    log_uri: str | None = Field(
        default=None,
        description="Directory or fsspec URL for prediction logs and feedback; "
        "default <home>/logs.",
    )
    trust_pickles: bool = Field(
        default=False,
        description="Allow loading pickle/joblib artifacts. Only for artifacts you produced.",
    )
    user: str | None = Field(
        default=None,
        description="Who is acting, recorded in the audit trail; default the OS user.",
    )

    def resolved_home(self) -> Path:
        return self.home.expanduser()

    def resolved_registry_uri(self) -> str:
        if self.registry_uri:
            return self.registry_uri
        return f"sqlite:///{self.resolved_home() / 'registry.db'}"

    def resolved_artifact_uri(self) -> str:
        return self.artifact_uri or str(self.resolved_home() / "artifacts")

    def resolved_log_uri(self) -> str:
        return self.log_uri or str(self.resolved_home() / "logs")

    def alert_journal_path(self) -> Path:
        """Every alert that fired, with what its actions did: the dedup memory of all fronts."""
        return self.resolved_home() / "alerts.jsonl"

    def cache_dir(self) -> Path:
        return self.resolved_home() / "cache"

    def actor(self) -> str:
        if self.user:
            return self.user
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # no passwd entry in some containers
            return "unknown"
