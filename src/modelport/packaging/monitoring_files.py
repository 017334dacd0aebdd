"""The Grafana dashboards and Prometheus rules modelport ships, copied into a package.

They live as package data in ``modelport/packaging/grafana/*.json`` and
``modelport/packaging/prometheus/*.yml`` (written and tested on their own); a package gets
every file of both directories, byte for byte. Placeholders that keep an empty directory
in git (``.gitkeep``) are not copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: package data directory -> the directory of the package it is copied to
DIRECTORIES = ("grafana", "prometheus")
_PLACEHOLDERS = {".gitkeep"}


def source_dir(name: str) -> Path:
    return Path(__file__).parent / name


def shipped_files(name: str) -> list[Path]:
    """Every shipped file of one directory (none is fine: the copy is then empty)."""
    root = source_dir(name)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _PLACEHOLDERS)


def copy_monitoring(out_dir: Path) -> list[Path]:
    """Copy both directories into ``out_dir``; return the files written."""
    written = []
    for name in DIRECTORIES:
        target = out_dir / name
        target.mkdir(parents=True, exist_ok=True)
        for path in shipped_files(name):
            dest = target / path.relative_to(source_dir(name))
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            written.append(dest)
    return written
