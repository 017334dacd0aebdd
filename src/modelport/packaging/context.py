"""A package directory, written from its parts.

    DIR/Dockerfile, .dockerignore, requirements.lock, wheels/, package/ (manifest + artifacts)
    DIR/grafana/*.json, DIR/prometheus/*.yml     the shipped dashboards and rules
    DIR/k8s/*.yaml                               with --k8s
    DIR/docker-compose.yaml, DIR/compose/...     with --compose

The directory is written beside its final place and renamed into it, so a failure (a
wheel pip cannot find, a tampered artifact) leaves no half-written package behind.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import modelport
from modelport.errors import InvalidArgument
from modelport.packaging import compose, kubernetes, monitoring_files
from modelport.packaging.bundle import ArtifactMode, Manifest, Selection, write_bundle
from modelport.packaging.dockerfile import (
    DEFAULT_BASE_IMAGE,
    HOME,
    PORT,
    ImageSpec,
    dockerfile,
    dockerignore,
)
from modelport.packaging.lock import (
    LOCK,
    WHEELS,
    build_wheelhouse,
    extras_for,
    lock_text,
    locked_wheels,
)
from modelport.registry import Registry
from modelport.settings import ServingSettings, Settings

#: the file that marks a directory as a package (so --force never deletes anything else)
MARKER = "package/manifest.json"
#: serving settings that name files on the packaging machine: they do not travel
_LOCAL_FILES = {"tls_cert", "tls_key", "jwks", "alert_rules", "host", "port"}


@dataclass(frozen=True, slots=True)
class PackageOptions:
    kubernetes: bool = False
    compose: bool = False
    artifacts: ArtifactMode = "copy"
    base_image: str = DEFAULT_BASE_IMAGE
    image: str | None = None
    force: bool = False
    #: a prebuilt modelport wheel (when modelport does not run from a source tree)
    modelport_wheel: Path | None = None
    #: where resolved dependency wheels are kept between packages (None: resolve every time)
    wheel_cache: Path | None = None


@dataclass(frozen=True, slots=True)
class PackageResult:
    out_dir: Path
    image: str
    manifest: Manifest
    files: list[str] = field(default_factory=list)
    wheels: int = 0

    def build_commands(self) -> list[str]:
        return [
            f"buildah bud --format docker -t {self.image} {self.out_dir}",
            f"docker build -t {self.image} {self.out_dir}",
        ]


def image_name(selection: Selection, given: str | None) -> str:
    return given or f"modelport-{kubernetes.object_name(selection.name)}:{selection.tag}"


def settings_env(settings: Settings) -> dict[str, str]:
    """The container's settings: listen on every interface, scrape /metrics without a key
    (the NetworkPolicy says who reaches the port), plus every serving setting this machine
    changed from its default."""
    env = {
        "MODELPORT_HOME": HOME,
        "MODELPORT_SERVING__HOST": "0.0.0.0",
        "MODELPORT_SERVING__PORT": str(PORT),
        "MODELPORT_SERVING__PUBLIC_METRICS": "true",
    }
    defaults = ServingSettings()
    for name in ServingSettings.model_fields:
        value = getattr(settings.serving, name)
        if name in _LOCAL_FILES or value == getattr(defaults, name) or value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        env[f"MODELPORT_SERVING__{name.upper()}"] = text
    return env


def _prepare(out_dir: Path, force: bool) -> None:
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return
    if not force:
        raise InvalidArgument(
            f"{out_dir} exists and is not empty",
            hint="choose another --out, or --force to replace a package written before",
        )
    if not (out_dir / MARKER).is_file():
        raise InvalidArgument(
            f"{out_dir} is not a package directory (no {MARKER}); --force replaces only those",
            hint="choose an empty or new directory for --out",
        )


def write_package(
    registry: Registry,
    settings: Settings,
    selection: Selection,
    out_dir: Path,
    options: PackageOptions,
) -> PackageResult:
    """Write the package of ``selection`` into ``out_dir``; see the module docstring."""
    out_dir = out_dir.expanduser().resolve()
    _prepare(out_dir, options.force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        result = _write(registry, settings, selection, staging, options)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise
    return PackageResult(out_dir, result.image, result.manifest, result.files, result.wheels)


def _write(
    registry: Registry,
    settings: Settings,
    selection: Selection,
    root: Path,
    options: PackageOptions,
) -> PackageResult:
    image = image_name(selection, options.image)
    manifest = write_bundle(registry, selection, root / "package", options.artifacts)
    extras = extras_for({v.flavor for v in selection.versions})
    build_wheelhouse(root / WHEELS, extras, options.modelport_wheel, options.wheel_cache)
    wheels = locked_wheels(root / WHEELS)
    (root / LOCK).write_text(lock_text(wheels))
    names = ", ".join(f"{v.name}:{v.version}" for v in selection.versions)
    name, _, tag = image.rpartition(":")
    spec = ImageSpec(
        title=name or image,
        version=tag if name else selection.tag,
        description=f"modelport serving {names}",
        base_image=options.base_image,
        revision=next((v.git_sha for v in selection.versions if v.git_sha), None) or "",
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        modelport_version=modelport.__version__,
    )
    (root / "Dockerfile").write_text(dockerfile(spec))
    (root / ".dockerignore").write_text(dockerignore())
    monitoring_files.copy_monitoring(root)
    env = settings_env(settings)
    remote_artifacts = settings.artifact_uri is not None and "://" in settings.artifact_uri
    if options.artifacts == "fetch" and remote_artifacts:
        # a shared store (s3://...): where fetched artifacts come from; a local directory
        # of this machine would mean nothing in a cluster
        env["MODELPORT_ARTIFACT_URI"] = str(settings.artifact_uri)
    if options.kubernetes:
        cluster = kubernetes.ClusterSpec(
            name=kubernetes.object_name(selection.name), image=image, env=env
        )
        (root / "k8s").mkdir()
        for filename, obj in kubernetes.manifests(cluster).items():
            (root / "k8s" / filename).write_text(kubernetes.render(filename, obj, cluster.name))
    if options.compose:
        for rel, text in compose.files(image, env).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    (root / "README.md").write_text(_readme(image, names, options))
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and WHEELS not in p.relative_to(root).parts
    )
    return PackageResult(root, image, manifest, files, len(wheels))


def _readme(image: str, names: str, options: PackageOptions) -> str:
    """How to use this directory, written into it (kept out of the build context)."""
    lines = [
        f"# {image}: modelport serving {names}",
        "",
        "Build (the base image is a build argument; the Python minor version must match",
        "the wheels in wheels/):",
        "",
        f"    buildah bud --format docker -t {image} .",
        f"    docker build -t {image} .",
        "",
        f"Run: `docker run --init -p {PORT}:{PORT} --read-only --tmpfs /tmp "
        "-v keys:/etc/modelport/keys:ro IMAGE`;",
        "the keys file holds `ROLE[,ROLE] KEY` lines (`modelport keys create --json`).",
        f"Artifacts: {options.artifacts} "
        + (
            "(in the image, sha256 checked at build and at every start)."
            if options.artifacts == "copy"
            else "(loaded from MODELPORT_REGISTRY_URI / MODELPORT_ARTIFACT_URI at start)."
        ),
        "",
        "grafana/ and prometheus/ hold the dashboards and alerting rules.",
    ]
    if options.kubernetes:
        lines += [
            "",
            "Kubernetes: `kubectl apply -f k8s/` after removing the alternatives you do not",
            "want: keda-scaledobject.yaml replaces hpa.yaml; kserve-inferenceservice.yaml",
            "replaces deployment.yaml, service.yaml and hpa.yaml. Create the real Secret first",
            "(see k8s/secret.yaml).",
        ]
    if options.compose:
        lines += [
            "",
            "One host: `cp .env.example .env` (set the password), put keys in compose/api-keys,",
            "then `docker compose up`.",
        ]
    return "\n".join(lines) + "\n"
