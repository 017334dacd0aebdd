"""Export a version as an edge bundle: an ONNX graph that a device runs with NumPy and
ONNX Runtime only, with the server's input rules beside it.

An ONNX version is exported as it is. Any other version is converted, and the
conversion must pass the same strict parity gate as ``modelport optimize`` on the rows
kept at registration (or a given sample): the graph, loaded back through the ONNX
flavor, must give every row the original's label and probabilities within float32
error. Nothing is written when it does not.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from modelport.edge import rules_document, write_bundle
from modelport.edge.bundle import MODEL_FILE, refuse_existing
from modelport.errors import ArtifactMissing, OptimizationError, ParityError
from modelport.loaded import LoadedModel, load_model
from modelport.optimization.conversion import to_onnx
from modelport.optimization.parity import ParityReport, Tolerance, compare, outputs_of
from modelport.registry import Registry
from modelport.schema import Signature, validate
from modelport.services.checking import materialize, stored_sample

FORMATS = ("edge",)


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What was exported where, and the parity check that allowed it (None: ONNX as is)."""

    source: str
    out: Path
    source_flavor: str
    converted: bool
    parity: ParityReport | None
    #: file name -> sha256, as in the bundle's manifest.json
    files: dict[str, str] = field(default_factory=dict)
    format: str = "edge"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "out": str(self.out),
            "source_flavor": self.source_flavor,
            "converted": self.converted,
            "parity": self.parity.to_dict() if self.parity else None,
            "files": dict(self.files),
            "command": f"python {self.out / 'predict.py'} ROWS.jsonl",
        }


def export_edge(
    registry: Registry,
    ref: str,
    out: Path | str,
    *,
    force: bool = False,
    tolerance: Tolerance | None = None,
    sample: pd.DataFrame | None = None,
    trusted: bool | None = None,
) -> ExportReport:
    """Write the edge bundle of ``ref`` into ``out``.

    Raises ConflictError when ``out`` is not empty (unless ``force``), UnsupportedModel
    when no converter applies or the signature has features the runner cannot check,
    OptimizationError when there is no signature or no sample to check a conversion on,
    ParityError when the conversion disagrees with the original.

    >>> export_edge(registry, "credit-risk:3", "credit-edge")  # doctest: +SKIP
    """
    out = Path(out)
    refuse_existing(out, force=force)  # before the work, and again when moving into place
    loaded = load_model(registry, ref, trusted=trusted)
    version = loaded.version
    source = f"{version.name}:{version.version}"
    signature = loaded.signature
    if signature is None:
        raise OptimizationError(
            f"{source} has no signature, so the bundle would have no rules to check inputs by",
            hint="register the model with a sample of its training rows, then export it",
        )
    parity: ParityReport | None = None
    if version.flavor == "onnx":
        model = _onnx_file(registry, loaded)
        classes = loaded.classes or _signature_classes(signature)
    else:
        proto, parity = _checked_conversion(
            registry, loaded, signature, sample, tolerance or Tolerance()
        )
        model = proto.SerializeToString()
        classes = loaded.classes
    rules = rules_document(signature, classes, source)
    manifest = {
        "source": source,
        "source_flavor": version.flavor,
        "source_sha256": version.artifact_sha256,
        "converted": parity is not None,
        "parity": parity.to_dict() if parity else None,
        "modelport_version": _modelport_version(),
    }
    files = write_bundle(out, model, rules, manifest, force=force)
    return ExportReport(source, out, version.flavor, parity is not None, parity, files)


def _checked_conversion(
    registry: Registry,
    loaded: LoadedModel,
    signature: Signature,
    sample: pd.DataFrame | None,
    tolerance: Tolerance,
) -> tuple[Any, ParityReport]:
    """The ONNX graph of ``loaded``, proven on the sample as ``optimize`` proves it."""
    version = loaded.version
    source = f"{version.name}:{version.version}"
    raw = sample if sample is not None else stored_sample(registry, loaded)
    if raw is None:
        raise OptimizationError(
            f"{source} has no stored sample to check its ONNX conversion against",
            hint="pass --sample FILE.csv|.parquet with rows like the training data",
        )
    inputs = validate(signature, raw, extra="ignore")
    proto = to_onnx(version.flavor, loaded.predictor, signature, inputs)
    converted, _ = materialize("onnx", proto)
    parity = compare(outputs_of(loaded, inputs), outputs_of(converted, inputs), tolerance)
    if not parity.passed:
        raise ParityError(
            f"the ONNX conversion of {source} disagrees with the original on the sample: "
            f"max difference {parity.max_abs_diff:.3g}, {parity.label_changes:.2%} labels "
            f"changed, first differing rows {parity.differing_rows}",
            hint="nothing was written; loosen the tolerance only if those differences are "
            "acceptable, or export a model whose conversion keeps its answers",
        )
    return proto, parity


def _onnx_file(registry: Registry, loaded: LoadedModel) -> bytes:
    version = loaded.version
    directory = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    path = Path(directory) / str(version.flavor_options.get("file", MODEL_FILE))
    if not path.is_file():
        raise ArtifactMissing(
            f"{version.name}:{version.version} has no {path.name} in its artifact",
            hint="register the ONNX model again",
        )
    return path.read_bytes()


def _signature_classes(signature: Signature) -> list[Any] | None:
    return signature.outputs.classes if signature.outputs else None


def _modelport_version() -> str:
    try:
        return importlib.metadata.version("modelport")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown"
