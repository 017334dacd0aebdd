"""Export a version as an edge bundle: an ONNX graph that a device runs with NumPy and
ONNX Runtime only, with the server's input rules beside it.

An ONNX version is exported as it is. Any other version is converted, and the
conversion must pass the same strict parity gate as ``modelport optimize`` on the rows
kept at registration (or a given sample): the graph, loaded back through the ONNX
flavor, must give every row the original's label and probabilities within float32
error. Then the written bundle's own predict.py runs on the same rows, as JSON lines,
before the bundle is moved into place: that checks the runner's validation and feeding
too, which the flavor's check cannot. Nothing is written when either check fails.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelport.edge import rules_document, write_bundle
from modelport.edge.bundle import MODEL_FILE, refuse_existing
from modelport.edge.lines import json_lines
from modelport.edge.runner import BundleError, EdgeModel, score_lines
from modelport.errors import ArtifactMissing, OptimizationError, ParityError
from modelport.loaded import LoadedModel, load_model
from modelport.optimization.conversion import to_onnx
from modelport.optimization.parity import Outputs, ParityReport, Tolerance, compare, outputs_of
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
    #: the ONNX graph through the ONNX flavor against the version (None: exported as is)
    parity: ParityReport | None
    #: the bundle's own predict.py on the sample rows against the version (None: no rows)
    bundle_check: ParityReport | None = None
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
            "bundle_check": self.bundle_check.to_dict() if self.bundle_check else None,
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
    ParityError when the conversion or the bundle's runner disagrees with the original.

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
    raw = sample if sample is not None else stored_sample(registry, loaded)
    tolerance = tolerance or Tolerance()
    inputs = None if raw is None else validate(signature, raw, extra="ignore")
    reference = None if inputs is None else outputs_of(loaded, inputs)
    parity: ParityReport | None = None
    if version.flavor == "onnx":
        model = _onnx_file(registry, loaded)
        classes = loaded.classes or _signature_classes(signature)
    else:
        if inputs is None or reference is None:
            raise OptimizationError(
                f"{source} has no stored sample to check its ONNX conversion against",
                hint="pass --sample FILE.csv|.parquet with rows like the training data",
            )
        proto, parity = _checked_conversion(loaded, signature, inputs, reference, tolerance)
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

    def verify(bundle: Path) -> ParityReport | None:
        if inputs is None or reference is None:
            return None  # an ONNX version kept without sample rows: nothing to run it on
        return _bundle_parity(bundle, source, inputs, signature, reference, tolerance)

    files, checked = write_bundle(out, model, rules, manifest, force=force, verify=verify)
    return ExportReport(source, out, version.flavor, parity is not None, parity, checked, files)


def _checked_conversion(
    loaded: LoadedModel,
    signature: Signature,
    inputs: Any,
    reference: Outputs,
    tolerance: Tolerance,
) -> tuple[Any, ParityReport]:
    """The ONNX graph of ``loaded``, proven on the sample as ``optimize`` proves it."""
    version = loaded.version
    source = f"{version.name}:{version.version}"
    proto = to_onnx(version.flavor, loaded.predictor, signature, inputs)
    converted, _ = materialize("onnx", proto)
    parity = compare(reference, outputs_of(converted, inputs), tolerance)
    if not parity.passed:
        raise ParityError(
            f"the ONNX conversion of {source} disagrees with the original on the sample: "
            f"{_differences(parity)}",
            hint="nothing was written; loosen the tolerance only if those differences are "
            "acceptable, or export a model whose conversion keeps its answers",
        )
    return proto, parity


def _bundle_parity(
    bundle: Path,
    source: str,
    inputs: Any,
    signature: Signature,
    reference: Outputs,
    tolerance: Tolerance,
) -> ParityReport:
    """The written bundle's own runner on the sample rows, as JSON lines, against the version.

    This checks what the ONNX flavor's check cannot: that predict.py validates and feeds
    rows as the server does. The rows are the validated sample (values as the server
    coerced them), so a row it refuses is a fault of the runner, not of the sample.
    """
    frame = pd.DataFrame(inputs, columns=signature.names)
    try:
        answers = list(score_lines(EdgeModel(bundle), json_lines(frame)))
    except BundleError as exc:
        raise OptimizationError(
            f"the edge bundle of {source} cannot run: {exc}",
            hint="nothing was written; this is a fault of modelport's edge export: report it",
        ) from exc
    refused = [a for a in answers if "error" in a]
    if refused:
        raise OptimizationError(
            f"the bundle's predict.py refused {len(refused)} of the {len(answers)} sample rows "
            f"that the server accepts, the first: {refused[0]['error']}",
            hint="nothing was written; this is a fault of modelport's edge runner: report it "
            "with the version's signature",
        )
    predictions = np.asarray([a["prediction"] for a in answers])
    probabilities = None
    if reference.probabilities is not None and answers and "probabilities" in answers[0]:
        probabilities = np.asarray([list(a["probabilities"].values()) for a in answers])
    parity = compare(reference, Outputs(predictions, probabilities), tolerance)
    if not parity.passed:
        raise ParityError(
            f"the edge bundle of {source} disagrees with the version on the sample: "
            f"{_differences(parity)}",
            hint="nothing was written; loosen the tolerance only if those differences are "
            "acceptable",
        )
    return parity


def _differences(parity: ParityReport) -> str:
    return (
        f"max difference {parity.max_abs_diff:.3g}, {parity.label_changes:.2%} labels "
        f"changed, first differing rows {parity.differing_rows}"
    )


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
