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

import hashlib
import subprocess
import sys
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


def extras_for(flavors: Iterable[str], *, postgres: bool) -> list[str]:
    """The extras the image needs for these flavors (and PostgreSQL for a shared registry)."""
    extras = {FLAVOR_EXTRAS[f] for f in flavors if f in FLAVOR_EXTRAS}
    if postgres:
        extras.add("postgres")
    return sorted(extras)


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


def build_wheelhouse(target: Path, extras: list[str], modelport_wheel: Path | None) -> Path:
    """Fill ``target`` with the modelport wheel and every dependency's wheel; return the
    modelport wheel."""
    target.mkdir(parents=True, exist_ok=True)
    if modelport_wheel is None:
        _pip(
            ["wheel", "--no-deps", "--quiet", "-w", str(target), str(source_root())],
            "building the modelport wheel",
        )
        built = sorted(target.glob("modelport-*.whl"))
        if not built:
            raise ConfigurationError("pip built no modelport wheel", hint="see pip's output")
        wheel = built[-1]
    else:
        wheel = target / modelport_wheel.name
        wheel.write_bytes(modelport_wheel.read_bytes())
    requirement = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    _pip(
        ["download", "--quiet", "--only-binary=:all:", "-d", str(target), requirement],
        "downloading the dependencies' wheels",
    )
    return wheel


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
        wheels.append(LockedWheel(name.replace("_", "-").lower(), version, path.name, _sha256(path)))
    return wheels


def lock_text(wheels: list[LockedWheel]) -> str:
    header = (
        "# The image's dependencies, pinned by version and sha256 of the wheels in wheels/.\n"
        "# Installed with: pip install --no-index --find-links wheels --require-hashes -r "
        f"{LOCK}\n"
    )
    return header + "".join(f"{w.line()}\n" for w in wheels)
