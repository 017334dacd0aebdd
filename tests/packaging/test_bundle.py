from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelport.errors import ArtifactIntegrityError, InvalidArgument, NotFoundError
from modelport.packaging.bundle import (
    MANIFEST,
    Manifest,
    read_manifest,
    select,
    verify_bundle,
    write_bundle,
)
from modelport.registry import Registry
from modelport.settings import Settings
from tests.packaging.conftest import register_numeric


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    settings = Settings(home=tmp_path / "home", user="tester")
    register_numeric(settings)
    reg = Registry(settings)
    yield reg  # type: ignore[misc]
    reg.close()


def test_a_reference_is_pinned_to_the_version_it_names(registry: Registry) -> None:
    selection = select(registry, "numeric@production")
    assert selection.refs == ("numeric:2",)
    assert [v.version for v in selection.versions] == [2]
    assert selection.tag == "v2"


def test_a_deployment_brings_every_arm_pinned(registry: Registry) -> None:
    selection = select(registry, "checkout")
    assert selection.deployment is not None
    assert selection.deployment.refs() == ["numeric:2", "numeric:1"]
    assert sorted(v.version for v in selection.versions) == [1, 2]
    assert selection.refs == ()


def test_an_unknown_target_names_both_kinds(registry: Registry) -> None:
    with pytest.raises(NotFoundError) as info:
        select(registry, "nothing")
    assert "deployment" in (info.value.hint or "")


def test_copied_artifacts_match_and_the_manifest_round_trips(
    registry: Registry, tmp_path: Path
) -> None:
    selection = select(registry, "checkout")
    manifest = write_bundle(registry, selection, tmp_path / "b", "copy")
    again = read_manifest(tmp_path / "b")
    assert again == Manifest.from_dict(manifest.to_dict())
    assert [v.artifact_sha256 for v in again.versions] == [
        v.artifact_sha256 for v in selection.versions
    ]
    assert again.deployment == selection.deployment
    verify_bundle(again, tmp_path / "b")


def test_a_changed_artifact_is_refused(registry: Registry, tmp_path: Path) -> None:
    manifest = write_bundle(registry, select(registry, "numeric:1"), tmp_path / "b", "copy")
    artifact = tmp_path / "b" / manifest.paths["numeric:1"]
    victim = next(p for p in sorted(artifact.iterdir()) if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(ArtifactIntegrityError, match="numeric:1"):
        verify_bundle(manifest, tmp_path / "b")
    shutil.rmtree(artifact)
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        verify_bundle(manifest, tmp_path / "b")


def test_fetch_mode_copies_no_artifact(registry: Registry, tmp_path: Path) -> None:
    manifest = write_bundle(registry, select(registry, "numeric:1"), tmp_path / "b", "fetch")
    assert manifest.paths == {}
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [MANIFEST]


def test_an_unknown_manifest_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 99}))
    with pytest.raises(InvalidArgument, match="format"):
        read_manifest(tmp_path)
