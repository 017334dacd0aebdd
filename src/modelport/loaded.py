"""A loaded model version: validates its input against the signature, then predicts."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from modelport.errors import ModelportError, UntrustedArtifactError
from modelport.flavors import get_flavor
from modelport.flavors.base import Predictor
from modelport.reference import Reference
from modelport.registry import ModelVersion, Registry
from modelport.schema import Signature, validate


class LoadedModel:
    """A registered version in memory. ``predict`` takes any input shape ``validate`` accepts."""

    def __init__(self, version: ModelVersion, predictor: Predictor, load_seconds: float) -> None:
        self.version = version
        self.predictor = predictor
        self.load_seconds = load_seconds
        self.signature = Signature.from_dict(version.signature) if version.signature else None

    @property
    def ref(self) -> Reference:
        return self.version.ref

    @property
    def classes(self) -> list[Any] | None:
        return self.predictor.classes

    def prepare(self, data: Any, *, extra: str = "error") -> Any:
        """Validated, model-ready input (raises ValidationError listing every bad field)."""
        if self.signature is None:
            return data
        return validate(self.signature, data, extra=extra)  # type: ignore[arg-type]

    def predict(self, data: Any) -> np.ndarray:
        """Predictions for every row of ``data`` (validated against the signature first)."""
        return np.asarray(self.predictor.predict(self.prepare(data)))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities; raises if the model has none."""
        proba = self.predictor.predict_proba(self.prepare(data))
        if proba is None:
            raise ModelportError(
                f"{self.ref} has no class probabilities",
                hint="use predict(); only classifiers with predict_proba give probabilities",
            )
        return np.asarray(proba)

    def __repr__(self) -> str:
        return f"LoadedModel({self.ref}, flavor={self.version.flavor!r})"


def load_model(
    registry: Registry, ref: str | Reference, *, trusted: bool | None = None
) -> LoadedModel:
    """Resolve ``ref``, fetch and verify the artifact (sha256), and load it with its flavor."""
    version = registry.get(ref)
    allowed = registry.settings.trust_pickles if trusted is None else trusted
    started = time.perf_counter()
    directory = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    flavor = get_flavor(version.flavor)
    try:
        predictor = flavor.load(directory, version.flavor_options, trusted=allowed)
    except UntrustedArtifactError as exc:
        raise UntrustedArtifactError(
            f"{version.ref}: {exc.message}",
            hint=exc.hint or "pass trusted=True or set MODELPORT_TRUST_PICKLES=1",
        ) from exc
    return LoadedModel(version, predictor, time.perf_counter() - started)
