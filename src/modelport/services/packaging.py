"""Package a model version or a deployment: the operation every front end calls.

``package(registry, settings, target, out_dir, options)`` resolves ``target`` (a model
reference or a deployment name) to pinned versions and writes the package directory
(:mod:`modelport.packaging.context`); the report says what went in and how to build it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.errors import InvalidArgument
from modelport.packaging.bundle import ARTIFACT_MODES, select
from modelport.packaging.context import PackageOptions, PackageResult, write_package
from modelport.registry import Registry
from modelport.settings import Settings


@dataclass(frozen=True, slots=True)
class PackageReport:
    target: str
    result: PackageResult

    def to_dict(self) -> dict[str, Any]:
        manifest = self.result.manifest
        return {
            "target": self.target,
            "out_dir": str(self.result.out_dir),
            "image": self.result.image,
            "artifacts": manifest.artifacts,
            "versions": [
                {"ref": f"{v.name}:{v.version}", "sha256": v.artifact_sha256}
                for v in manifest.versions
            ],
            "deployment": None if manifest.deployment is None else manifest.deployment.name,
            "wheels": self.result.wheels,
            "files": self.result.files,
            "build": self.result.build_commands(),
        }


def package(
    registry: Registry,
    settings: Settings,
    target: str,
    out_dir: Path,
    options: PackageOptions | None = None,
) -> PackageReport:
    """Write the package of ``target`` (``credit-risk@production``, ``checkout``) to ``out_dir``."""
    options = options or PackageOptions()
    if options.artifacts not in ARTIFACT_MODES:
        raise InvalidArgument(
            f"--artifacts {options.artifacts!r} is not one of {', '.join(ARTIFACT_MODES)}",
            hint="copy puts the artifacts in the image; fetch loads them from the registry",
        )
    if options.wheel_cache is None:
        options = dataclasses.replace(options, wheel_cache=settings.cache_dir() / "wheelhouse")
    selection = select(registry, target)
    return PackageReport(target, write_package(registry, settings, selection, out_dir, options))
