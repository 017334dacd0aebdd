"""Lineage: where a version came from (git commit, training data hash)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd


def git_sha(cwd: Path | None = None) -> str | None:
    """The commit checked out in the git work tree around ``cwd``, or None outside one."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and len(sha) == 40 else None


def data_sha256(data: Any) -> str:
    """A stable digest of training data: a file's bytes, or a frame's values and columns."""
    digest = hashlib.sha256()
    if isinstance(data, (str, Path)):
        with open(data, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
