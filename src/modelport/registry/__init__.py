"""The model registry: versions, aliases, audit trail (SQLAlchemy) and artifacts (fsspec)."""

from modelport.registry.records import AliasEvent, ModelInfo, ModelVersion
from modelport.registry.store import Registry

__all__ = ["AliasEvent", "ModelInfo", "ModelVersion", "Registry"]
