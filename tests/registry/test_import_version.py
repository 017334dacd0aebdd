"""Registry.import_version and KeyStore.create(key=): what a packaged container records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.errors import ConflictError, InvalidArgument
from modelport.registry import Registry
from modelport.security.keys import new_key
from modelport.settings import Settings


def _source(settings: Settings) -> Registry:
    X = np.random.default_rng(3).normal(size=(60, 3))
    registry = Registry(settings)
    for c in (0.5, 1.0, 2.0):
        model = LogisticRegression(C=c).fit(X, (X[:, 0] > 0).astype(int))
        modelport.register(model, "m", sample=X, registry=registry)
    return registry


def test_an_imported_version_keeps_its_number_and_later_ones_follow(
    tmp_path: Path, registry_settings: Settings
) -> None:
    """On SQLite and on PostgreSQL (with --integration): a container's registry may be either."""
    source = _source(Settings(home=tmp_path / "a", user="t"))
    target = Registry(registry_settings)
    try:
        third = source.get("m:3")
        imported = target.import_version(third, third.artifact_uri)
        assert (imported.version, imported.artifact_sha256) == (3, third.artifact_sha256)
        assert imported.signature == third.signature and imported.tags == third.tags
        assert target.import_version(third, third.artifact_uri).version == 3  # idempotent
        changed = dataclasses.replace(third, artifact_sha256="0" * 64)
        with pytest.raises(ConflictError, match="another artifact"):
            target.import_version(changed, third.artifact_uri)
        loaded = target.artifacts.fetch(imported.artifact_uri, imported.artifact_sha256)
        assert loaded.is_dir()
        X = np.random.default_rng(4).normal(size=(30, 3))
        later = LogisticRegression().fit(X, (X[:, 1] > 0).astype(int))
        assert modelport.register(later, "m", sample=X, registry=target).version == 4
    finally:
        source.close()
        target.close()


def test_a_given_key_is_stored_by_its_hash_and_a_malformed_one_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    registry = Registry(Settings(home=tmp_path / "h", user="t"))
    try:
        identifier, key = new_key()
        record, returned = registry.keys.create(["predict"], key=key)
        assert (record.id, returned) == (identifier, key)
        found = registry.keys.lookup(identifier)
        assert found is not None and key not in found[1]
        with pytest.raises(InvalidArgument, match="shaped"):
            registry.keys.create(["predict"], key="mpk_short")
    finally:
        registry.close()
