"""What a package serves: the versions (and deployment) chosen, written as a manifest.

The manifest is the contract between the machine that packages and the container that
serves: every version's registry record (flavor, signature, profile, sha256 ...) and, with
``--artifacts copy``, where its artifact directory sits in the image. The container's entry
point (:mod:`modelport.packaging.start`) reads it back, checks every artifact against its
sha256 and records the versions in the container's registry under their own numbers, so
``credit-risk:3`` in the image is ``credit-risk:3`` of the registry it came from.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from modelport.deployments.spec import DeploymentSpec
from modelport.errors import ArtifactIntegrityError, InvalidArgument, NotFoundError
from modelport.reference import parse
from modelport.registry import Registry
from modelport.registry.artifacts import directory_sha256
from modelport.registry.records import ModelVersion

ArtifactMode = Literal["copy", "fetch"]
ARTIFACT_MODES: tuple[ArtifactMode, ...] = ("copy", "fetch")
MANIFEST = "manifest.json"
#: the manifest's layout; the entry point refuses one it does not know
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Selection:
    """What one package serves: model references, or one deployment and its arms' versions."""

    #: the name the package is known by (model or deployment), used for image and objects
    name: str
    versions: tuple[ModelVersion, ...]
    #: references the server is started with: pinned ``name:N`` (an image never changes)
    refs: tuple[str, ...] = ()
    deployment: DeploymentSpec | None = None

    @property
    def tag(self) -> str:
        """An image tag saying which versions are inside: ``v3`` or ``credit-v3-churn-v1``."""
        if len(self.versions) == 1:
            return f"v{self.versions[0].version}"
        return "-".join(f"{v.name}-v{v.version}" for v in self.versions)[:120]


@dataclass(frozen=True, slots=True)
class Manifest:
    """The manifest as data: see the module docstring."""

    artifacts: ArtifactMode
    versions: tuple[ModelVersion, ...]
    refs: tuple[str, ...]
    deployment: DeploymentSpec | None = None
    #: ``name:N`` -> the artifact directory relative to the bundle root (copy mode)
    paths: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "artifacts": self.artifacts,
            "refs": list(self.refs),
            "deployment": None if self.deployment is None else self.deployment.to_dict(),
            "versions": [_version_dict(v) for v in self.versions],
            "paths": dict(self.paths),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise InvalidArgument(
                f"package manifest format {data.get('format')!r} is not {FORMAT}",
                hint="package the model again with this modelport version",
            )
        deployment = data.get("deployment")
        return cls(
            artifacts=data["artifacts"],
            versions=tuple(_version(v) for v in data["versions"]),
            refs=tuple(data["refs"]),
            deployment=None if deployment is None else DeploymentSpec.from_dict(deployment),
            paths=dict(data.get("paths", {})),
        )


def _version_dict(version: ModelVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "flavor": version.flavor,
        "flavor_options": version.flavor_options,
        "signature": version.signature,
        "profile": version.profile,
        "metrics": version.metrics,
        "tags": version.tags,
        "artifact_sha256": version.artifact_sha256,
        "artifact_size": version.artifact_size,
        "git_sha": version.git_sha,
        "data_sha256": version.data_sha256,
        "parent_version": version.parent_version,
        "description": version.description,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
        "aliases": version.aliases,
    }


def _version(data: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        **{**data, "artifact_uri": "", "created_at": datetime.fromisoformat(data["created_at"])}
    )


def select(registry: Registry, target: str) -> Selection:
    """The versions ``target`` names: a deployment's arms and shadows, or one model reference.

    A bare name is a deployment if one is so called (a model cannot share its name), else
    the latest version of that model.
    """
    ref = parse(target)
    if ref.version is None and ref.alias is None:
        deployment = registry.deployments.find(ref.name)
        if deployment is not None:
            spec = _pinned(registry, deployment.spec)
            versions = _unique(registry.get(r) for r in spec.refs())
            return Selection(spec.name, versions, deployment=spec)
    try:
        version = registry.get(ref)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{target}: {exc.message}",
            hint="name a registered model version (see `modelport models list`) "
            "or a deployment (see `modelport deploy list`)",
        ) from exc
    return Selection(version.name, (version,), refs=(f"{version.name}:{version.version}",))


def _pinned(registry: Registry, spec: DeploymentSpec) -> DeploymentSpec:
    """The deployment with every reference pinned to the version it names now.

    An image never changes, so ``credit-risk@production`` inside it means the version that
    was production when it was packaged; a later promotion ships as a new image.
    """

    def pin(ref: str) -> str:
        version = registry.get(ref)
        return f"{version.name}:{version.version}"

    return dataclasses.replace(
        spec,
        arms=tuple(dataclasses.replace(a, ref=pin(a.ref)) for a in spec.arms),
        shadows=tuple(dataclasses.replace(s, ref=pin(s.ref)) for s in spec.shadows),
    )


def _unique(versions: Any) -> tuple[ModelVersion, ...]:
    seen: dict[tuple[str, int], ModelVersion] = {}
    for version in versions:
        seen.setdefault((version.name, version.version), version)
    return tuple(seen.values())


def artifact_path(version: ModelVersion) -> str:
    """Where a version's artifact goes inside the bundle."""
    return f"models/{version.name}/{version.version}"


def write_bundle(
    registry: Registry, selection: Selection, root: Path, mode: ArtifactMode
) -> Manifest:
    """The bundle directory: the manifest and, in copy mode, every artifact (verified).

    Artifacts are fetched through the artifact store, which checks their sha256 (and
    decrypts encrypted ones: the image then holds the plaintext, which the entry point and
    every load check again).
    """
    root.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    if mode == "copy":
        for version in selection.versions:
            local = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
            rel = artifact_path(version)
            shutil.copytree(local, root / rel)
            paths[f"{version.name}:{version.version}"] = rel
    manifest = Manifest(
        artifacts=mode,
        versions=selection.versions,
        refs=selection.refs,
        deployment=selection.deployment,
        paths=paths,
    )
    (root / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    if mode == "copy":
        verify_bundle(manifest, root)  # the copy is what the image gets: check it, not the source
    return manifest


def read_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not path.is_file():
        raise InvalidArgument(
            f"no package manifest at {path}",
            hint="this entry point runs inside an image built from `modelport package`",
        )
    return Manifest.from_dict(json.loads(path.read_text()))


def verify_bundle(manifest: Manifest, root: Path) -> None:
    """Every copied artifact has its registered sha256; raise on the first that has not."""
    for version in manifest.versions:
        key = f"{version.name}:{version.version}"
        rel = manifest.paths.get(key)
        if rel is None:
            raise ArtifactIntegrityError(
                f"the package manifest lists {key} without an artifact directory",
                hint="package the model again",
            )
        directory = root / rel
        if not directory.is_dir():
            raise ArtifactIntegrityError(
                f"the artifact of {key} is missing from the package ({directory})",
                hint="rebuild the image from an unmodified package directory",
            )
        actual, _ = directory_sha256(directory)
        if actual != version.artifact_sha256:
            raise ArtifactIntegrityError(
                f"the artifact of {key} in the package has sha256 {actual[:12]}..., but "
                f"{version.artifact_sha256[:12]}... was registered: it was changed",
                hint="refusing to serve it; rebuild the image from an unmodified package",
            )
