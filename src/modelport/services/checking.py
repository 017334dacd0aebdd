"""What a model derived from a version is checked on: the version's kept training rows,
and the derived model saved and loaded back through its flavor, as a registered version
would be. ``modelport optimize`` and the edge export both gate on these.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from modelport.flavors import get_flavor
from modelport.flavors.base import Predictor
from modelport.loaded import LoadedModel
from modelport.registry import Registry
from modelport.training_sample import read_sample


def stored_sample(registry: Registry, loaded: LoadedModel) -> pd.DataFrame | None:
    """The rows kept with ``loaded``'s version at registration, or None if it has none."""
    version = loaded.version
    return read_sample(registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256))


def materialize(flavor: str, model: Any) -> tuple[Predictor, int]:
    """Save ``model`` with its flavor and load it back; the predictor and the saved bytes."""
    chosen = get_flavor(flavor)
    with tempfile.TemporaryDirectory(prefix="modelport-optimize-") as tmp:
        directory = Path(tmp)
        options = chosen.save(model, directory)
        size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
        # built in this process from a loaded version, so there is nothing foreign to trust
        return chosen.load(directory, options, trusted=True), size
