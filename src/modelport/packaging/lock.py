"""The image's Python dependencies: a wheelhouse in the build context and a lock with hashes.

Why a wheelhouse rather than a lock the image build resolves against an index: the build
then needs no network at all (no index is reachable where images are often built, and
none is here), it installs exactly the files that were locked (``pip install --no-index
--require-hashes``: a wheel that differs from the one hashed is refused), and the same
context builds the same image next year. The cost is size (the context carries a few
hundred MB of wheels); ``.dockerignore`` keeps everything else out.

The modelport wheel is built from the source tree this modelport runs from (the package
must ship the code that packaged it), its dependencies are ``pip download``ed for this
interpreter's Python version and platform, so the base image must have the same Python
minor version (pip refuses the wheels otherwise, at build, with a message naming them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import modelport
from modelport.errors import ConfigurationError

LOCK = "requirements.lock"
WHEELS = "wheels"
#: flavors whose libraries are an extra, and the extra that brings them
FLAVOR_EXTRAS = {
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnx": "onnx",
    "torch": "torch",
    "mlflow": "mlflow",
}


@dataclass(frozen=True, slots=True)
class LockedWheel:
    name: str
    version: str
    filename: str
    sha256: str

    def line(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


def extras_for(flavors: Iterable[str]) -> list[str]:
    """The extras the image needs for these flavors, and always the PostgreSQL driver.

    Every image can then join a shared registry (``MODELPORT_REGISTRY_URI``) whatever it
    was packaged for, at a few MB; and packages of the same flavors share one resolution.
    """
    return sorted({FLAVOR_EXTRAS[f] for f in flavors if f in FLAVOR_EXTRAS} | {"postgres"})


def source_root() -> Path:
    """The source tree of the running modelport (its pyproject.toml names the project)."""
    for parent in Path(modelport.__file__).resolve().parents:
        project = parent / "pyproject.toml"
        if project.is_file() and 'name = "modelport"' in project.read_text():
            return parent
    raise ConfigurationError(
        "modelport runs from an installed wheel, not a source tree, so there is nothing "
        "to build the image's modelport wheel from",
        hint="pass the wheel with --modelport-wheel PATH (or run from a source checkout)",
    )


def _pip(args: list[str], what: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise ConfigurationError(
            f"{what} failed (pip exit {result.returncode}):\n{tail}",
            hint="the wheelhouse needs every dependency as a wheel from your package index "
            "or pip's find-links; check pip's configuration",
        )


def build_wheelhouse(
    target: Path, extras: list[str], modelport_wheel: Path | None, cache: Path | None = None
) -> Path:
    """Fill ``target`` with the modelport wheel and every dependency's wheel; return the
    modelport wheel.

    Resolving the dependencies is the slow part (half a minute of pip), and its answer
    depends only on what modelport requires, the extras and this interpreter; so the
    dependency wheels are kept in ``cache`` under a key of exactly those, and a later
    package with the same key links them instead of resolving again. The lock hashes the
    files themselves either way.
    """
    target.mkdir(parents=True, exist_ok=True)
    wheel = _modelport_wheel(target, modelport_wheel)
    key = resolution_key(wheel, extras)
    cached = None if cache is None else cache / key
    if cached is not None and (cached / _COMPLETE).is_file():
        for path in cached.glob("*.whl"):
            _link(path, target / path.name)
        return wheel
    requirement = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    _pip(
        ["download", "--quiet", "--only-binary=:all:", "-d", str(target), requirement],
        "downloading the dependencies' wheels",
    )
    if cached is not None:
        staging = cached.with_name(f".{key}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for path in target.glob("*.whl"):
            if path != wheel:
                _link(path, staging / path.name)
        (staging / _COMPLETE).write_text(requirement + "\n")
        with contextlib.suppress(OSError):  # another packager cached the same key first
            staging.rename(cached)
        shutil.rmtree(staging, ignore_errors=True)
    return wheel


_COMPLETE = "resolved.txt"


def _modelport_wheel(target: Path, given: Path | None) -> Path:
    if given is not None:
        wheel = target / given.name
        shutil.copyfile(given, wheel)
        return wheel
    _pip(
        ["wheel", "--no-deps", "--quiet", "-w", str(target), str(source_root())],
        "building the modelport wheel",
    )
    built = sorted(target.glob("modelport-*.whl"))
    if not built:
        raise ConfigurationError("pip built no modelport wheel", hint="see pip's output")
    return built[-1]


def resolution_key(wheel: Path, extras: list[str]) -> str:
    """What the dependency resolution depends on: the wheel's requirements, the extras,
    this Python and platform."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    requires = sorted(line for line in metadata.splitlines() if line.startswith("Requires-Dist:"))
    identity = [*requires, *extras, sys.version.split()[0], sysconfig.get_platform()]
    return hashlib.sha256("\n".join(identity).encode()).hexdigest()[:24]


def _link(source: Path, dest: Path) -> None:
    """A hard link where the file system allows (a wheelhouse is hundreds of MB), else a copy."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def locked_wheels(wheelhouse: Path) -> list[LockedWheel]:
    """One pinned, hashed entry per wheel (the file name carries name and version, PEP 427)."""
    wheels = []
    for path in sorted(wheelhouse.glob("*.whl")):
        name, version = path.name.split("-")[:2]
        wheels.append(
            LockedWheel(name.replace("_", "-").lower(), version, path.name, _sha256(path))
        )
    return wheels


def lock_text(wheels: list[LockedWheel]) -> str:
    header = (
        "# The image's dependencies, pinned by version and sha256 of the wheels in wheels/.\n"
        "# Installed with: pip install --no-index --find-links wheels --require-hashes -r "
        f"{LOCK}\n"
    )
    return header + "".join(f"{w.line()}\n" for w in wheels)
