"""Optimize a version: build faster candidates, gate them on parity, keep the fastest.

Candidates are the original ("native"), its ONNX conversion, the conversion quantized,
and pruned or distilled models (natively and converted). Every candidate is loaded back
through its flavor, as a registered version would be, and compared with the original on
the rows kept at registration (or a given sample). A conversion or quantization must pass
the strict parity gate; a pruned or distilled model is a different, smaller model, so it
is judged by its agreement (or fidelity) against the target asked for, and the report
says which measure each candidate passed by. Speed is measured for every candidate in the
same run, so the comparison is between equals on the same loaded machine.

Asking for pruning or distillation asks for a smaller model: the choice is then among the
pruned and distilled candidates only (the original and its plain conversion are still
measured, as the "before" of the report's ``compression`` section), so an unreachable
target registers nothing rather than the conversion in its place.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from modelport.errors import InvalidArgument, OptimizationError, ParityError, UnsupportedModel
from modelport.flavors.base import Predictor
from modelport.loaded import LoadedModel, load_model
from modelport.optimization.choice import Traffic, choose_runtime
from modelport.optimization.conversion import to_onnx
from modelport.optimization.parity import Outputs, ParityReport, Tolerance, compare, outputs_of
from modelport.optimization.speed import SpeedReport, measure
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.schema import Signature, validate
from modelport.services.checking import materialize as _materialize
from modelport.services.checking import stored_sample as _stored_sample
from modelport.training_sample import SAMPLE_FILE

Runtime = Literal["auto", "onnx", "native"]
Quantize = Literal["none", "dynamic", "fp16"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way of serving the model, and how it measured up."""

    name: str
    runtime: Literal["native", "onnx"]
    flavor: str
    #: what would be registered; None for the original itself
    model: Any
    passed: bool
    parity: ParityReport | None = None
    #: pruned/distilled: agreement (fidelity) with the original, and the target it had to meet
    agreement: float | None = None
    target: float | None = None
    speed: SpeedReport | None = None
    note: str | None = None
    #: pruned/distilled: what the compression did (trees kept, student, rows used, sizes)
    details: dict[str, Any] | None = None

    @property
    def compressed(self) -> bool:
        return self.target is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "runtime": self.runtime,
            "flavor": self.flavor,
            "passed": self.passed,
            "gate": "parity" if self.target is None else "agreement",
            "parity": self.parity.to_dict() if self.parity else None,
            "agreement": self.agreement,
            "target": self.target,
            "speed": self.speed.to_dict() if self.speed else None,
            "note": self.note,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class OptimizationReport:
    source: str
    chosen: Candidate
    candidates: list[Candidate]
    reason: str
    traffic: str
    version: str | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source,
            "runtime": self.chosen.runtime,
            "candidate": self.chosen.name,
            "traffic": self.traffic,
            "parity": self.chosen.parity.to_dict() if self.chosen.parity else None,
            "speed": {c.name: c.speed.to_dict() for c in self.candidates if c.speed},
            "candidates": [c.to_dict() for c in self.candidates],
            "skipped": list(self.skipped),
            "reason": self.reason,
            "compression": _compression_summary(self.candidates),
        }


def optimize(
    registry: Registry,
    ref: str,
    *,
    runtime: Runtime = "auto",
    quantize: Quantize = "none",
    prune: float | None = None,
    distill: float | None = None,
    tolerance: Tolerance | None = None,
    sample: pd.DataFrame | None = None,
    traffic: Traffic = "both",
    providers: tuple[str, ...] | None = None,
    register: bool = False,
    repeats: int = 5,
    trusted: bool | None = None,
) -> OptimizationReport:
    """Build, check and time the candidates for ``ref``; register the chosen one if asked.

    Raises ParityError (registering nothing) when ``register`` and the chosen candidate
    fails its gate; OptimizationError when there is no sample to check parity on.
    ``repeats``: timed calls per batch size; ``trusted`` as for :func:`load_model`.
    """
    if runtime == "native" and quantize != "none":
        raise InvalidArgument(
            "quantization applies to ONNX graphs, not to the native runtime",
            hint="use --runtime onnx or auto with --quantize",
        )
    tolerance = tolerance or Tolerance()
    loaded = load_model(registry, ref, trusted=trusted)
    version = loaded.version
    source = f"{version.name}:{version.version}"
    signature = loaded.signature
    raw = sample if sample is not None else _stored_sample(registry, loaded)
    if signature is None or raw is None:
        raise OptimizationError(
            f"{source} has no {'signature' if signature is None else 'stored sample'} "
            "to check an optimized model against",
            hint="pass --sample FILE.csv|.parquet with rows like the training data",
        )
    inputs = validate(signature, raw, extra="ignore")
    reference = outputs_of(loaded, inputs)
    native = _native_model(version.flavor, loaded.predictor)
    builder = _Builder(loaded, signature, inputs, reference, tolerance, providers)
    candidates = [builder.original()]
    skipped: list[str] = []
    converted = None
    if runtime != "native":
        converted = builder.convert("onnx", version.flavor, loaded.predictor, runtime, skipped)
    if quantize != "none" and converted is not None:
        quantization = importlib.import_module("modelport.optimization.quantization")
        try:
            quantized = quantization.quantize(converted.model, quantize)
            candidates.append(builder.onnx(f"onnx+{quantize}", quantized, reference, None, None))
        except UnsupportedModel as exc:
            skipped.append(f"onnx+{quantize}: {exc.message}")
    if converted is not None:
        candidates.insert(1, converted)
    if prune is not None:
        pruning = _compression("pruning", "--prune")
        pruned = pruning.prune(version.flavor, native, inputs, prune)
        candidates.extend(
            builder.compressed(
                "pruned", version.flavor, pruned.model, pruned.agreement, prune, pruned.to_dict()
            )
        )
    if distill is not None:
        distillation = _compression("distillation", "--distill")
        student = distillation.distill(loaded.predictor, signature, raw, version.profile, distill)
        candidates.extend(
            builder.compressed(
                "distilled", "sklearn", student.model, student.fidelity, distill, student.to_dict()
            )
        )
    if runtime == "native":
        candidates = [c for c in candidates if c.runtime == "native"]
    own_size = _model_bytes(registry, loaded)
    timed = [_timed(c, loaded, own_size, inputs, repeats) for c in candidates]
    chosen, reason = _choose(
        timed, runtime, traffic, compress=prune is not None or distill is not None
    )
    report = OptimizationReport(source, chosen, timed, reason, traffic, skipped=skipped)
    if not register:
        return report
    if not chosen.passed:
        assert chosen.parity is not None
        hint = (
            "nothing was registered; loosen --tolerance/--max-label-changes only if "
            "those differences are acceptable, or choose another runtime"
        )
        if chosen.compressed:
            hint = (
                f"nothing was registered; {chosen.agreement:.4f} is the closest it came: ask "
                "for a lower target, or keep the model as it is (optimize without it)"
            )
        raise ParityError(
            f"{chosen.name} of {source} disagrees with the original: {_gate_failure(chosen)}",
            hint=hint,
        )
    if chosen.model is None:
        return dataclasses.replace(
            report, reason=f"{reason}; the original is kept, nothing to register"
        )
    new = register_model(
        registry,
        chosen.model,
        version.name,
        sample=raw,
        # the original's inputs, as they were: what it accepts (unknown categories where
        # its encoder copes) the optimized model was checked to accept the same way
        declared=signature,
        allow_unknown_categories=signature.allow_unknown_categories,
        flavor=chosen.flavor,
        parent=version.version,
        tags={"optimized_from": source, "runtime": chosen.runtime, "candidate": chosen.name},
        metrics=_metrics(chosen),
        description=f"{chosen.name} of {source}, chosen for {traffic} traffic: {reason}",
    )
    return dataclasses.replace(report, version=f"{new.name}:{new.version}")


class _Builder:
    """Makes candidates: loads each through its flavor and checks it against a reference."""

    def __init__(
        self,
        loaded: LoadedModel,
        signature: Signature,
        inputs: Any,
        reference: Outputs,
        tolerance: Tolerance,
        providers: tuple[str, ...] | None,
    ) -> None:
        self.loaded = loaded
        self.signature = signature
        self.inputs = inputs
        self.reference = reference
        self.tolerance = tolerance
        self.providers = providers

    def original(self) -> Candidate:
        report = compare(self.reference, self.reference, self.tolerance)
        return Candidate("native", "native", self.loaded.version.flavor, None, True, report)

    def convert(
        self, name: str, flavor: str, predictor: Predictor, runtime: str, skipped: list[str]
    ) -> Candidate | None:
        try:
            proto = to_onnx(flavor, predictor, self.signature, self.inputs)
        except UnsupportedModel as exc:
            if runtime == "onnx":
                raise
            skipped.append(f"{name}: {exc.message}")
            return None
        reference = self.reference if name == "onnx" else outputs_of(predictor, self.inputs)
        return self.onnx(name, proto, reference, None, None)

    def onnx(
        self,
        name: str,
        proto: Any,
        reference: Outputs,
        agreement: float | None,
        target: float | None,
    ) -> Candidate:
        model = _with_providers(proto, self.providers)
        predictor, size = _materialize("onnx", model)
        parity = compare(reference, outputs_of(predictor, self.inputs), self.tolerance)
        passed = parity.passed and (target is None or (agreement or 0.0) >= target)
        return Candidate(
            name,
            "onnx",
            "onnx",
            model,
            passed,
            parity,
            agreement,
            target,
            note=f"artifact {size} bytes",
        )

    def compressed(
        self,
        name: str,
        flavor: str,
        model: Any,
        agreement: float,
        target: float,
        details: dict[str, Any],
    ) -> list[Candidate]:
        """The compressed model natively, and converted when a converter applies."""
        predictor, _ = _materialize(flavor, model)
        own = outputs_of(predictor, self.inputs)
        parity = compare(self.reference, own, self.tolerance)
        made = [
            Candidate(
                name,
                "native",
                flavor,
                model,
                agreement >= target,
                parity,
                agreement,
                target,
                details=details,
            )
        ]
        try:
            proto = to_onnx(flavor, predictor, self.signature, self.inputs)
        except UnsupportedModel as exc:
            skipped = _skipped(f"{name}+onnx", exc)
            return [
                *made,
                dataclasses.replace(skipped, agreement=agreement, target=target, details=details),
            ]
        # the conversion is held to the strict gate against the compressed model it converts
        converted = self.onnx(f"{name}+onnx", proto, own, agreement, target)
        made.append(dataclasses.replace(converted, details=details))
        return made


def _compression(module: str, flag: str) -> Any:
    """The compression module, or a clear refusal where this build has none yet."""
    try:
        return importlib.import_module(f"modelport.optimization.{module}")
    except ModuleNotFoundError as exc:
        raise UnsupportedModel(
            f"{module} is not part of this release of modelport ({flag})",
            hint="convert and quantize work today: run without " + flag,
        ) from exc


def _skipped(name: str, exc: UnsupportedModel) -> Candidate:
    return Candidate(name, "onnx", "onnx", None, False, note=exc.message)


def _model_bytes(registry: Registry, loaded: LoadedModel) -> int:
    """The original's artifact without the kept sample rows, like the candidates' sizes."""
    version = loaded.version
    directory = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    files = [p for p in Path(directory).rglob("*") if p.is_file() and p.name != SAMPLE_FILE]
    return sum(p.stat().st_size for p in files)


def _native_model(flavor: str, predictor: Predictor) -> Any:
    """The library object the flavor's predictor wraps (what pruning works on).

    LightGBM's is the predictor itself: it holds the booster and the wrapper's class
    labels, which the booster alone does not know.
    """
    if flavor == "lightgbm":
        return predictor
    attribute = {"sklearn": "estimator", "xgboost": "model"}.get(flavor)
    return getattr(predictor, attribute, None) if attribute else None


def _with_providers(proto: Any, providers: tuple[str, ...] | None) -> Any:
    if providers is None:
        return proto
    onnx_flavor = importlib.import_module("modelport.flavors.onnx")
    wrapper = getattr(onnx_flavor, "ONNXModel", None)
    if wrapper is None:
        raise OptimizationError(
            "this ONNX flavor cannot record execution providers",
            hint="omit --providers: the graph then runs on the CPU provider",
        )
    return wrapper(proto, providers=providers)


def _timed(
    candidate: Candidate, loaded: LoadedModel, own_size: int, inputs: Any, repeats: int
) -> Candidate:
    if candidate.model is None and candidate.name != "native":
        return candidate
    if candidate.model is None:
        model, size = loaded, own_size
    else:
        predictor, size = _materialize(candidate.flavor, candidate.model)
        model = LoadedModel(loaded.version, predictor, 0.0)
    # LoadedModel.outputs is what serving and batch scoring call on validated input
    speed = measure(
        lambda batch: model.outputs(batch), inputs, repeats=repeats, artifact_bytes=size
    )
    return dataclasses.replace(candidate, speed=speed)


def _choose(
    candidates: list[Candidate], runtime: Runtime, traffic: Traffic, *, compress: bool = False
) -> tuple[Candidate, str]:
    """The fastest candidate that passed; only pruned/distilled ones when ``compress``."""
    wanted = [
        c
        for c in candidates
        if c.speed
        and (runtime == "auto" or c.runtime == runtime)
        and (c.compressed or not compress)
    ]
    eligible = [c for c in wanted if c.passed]
    if not eligible:
        if not wanted:
            raise UnsupportedModel(
                f"no {runtime} candidate could be built",
                hint="use --runtime auto to see why each candidate was skipped",
            )
        kind = "compressed " if compress else ""
        first = max(wanted, key=lambda c: c.agreement or 0.0) if compress else wanted[0]
        return first, f"no {kind}{runtime} candidate passed its gate ({_gate_failure(first)})"
    speeds = {c.name: c.speed for c in eligible if c.speed}
    name = choose_runtime(speeds, traffic)
    chosen = next(c for c in eligible if c.name == name)
    others = ", ".join(c.name for c in eligible if c.name != name) or "no other candidate"
    return chosen, f"fastest for {traffic} traffic among those that passed (vs {others})"


def _gate_failure(candidate: Candidate) -> str:
    if candidate.target is not None and (candidate.agreement or 0.0) < candidate.target:
        return f"agreement {candidate.agreement:.4f} below the target {candidate.target}"
    parity = candidate.parity
    if parity is None:
        return candidate.note or "not built"
    return (
        f"max difference {parity.max_abs_diff:.3g}, {parity.label_changes:.2%} labels changed, "
        f"first differing rows {parity.differing_rows}"
    )


def _metrics(candidate: Candidate) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if candidate.parity is not None:
        metrics["parity_max_abs_diff"] = candidate.parity.max_abs_diff
        metrics["parity_label_changes"] = candidate.parity.label_changes
    if candidate.agreement is not None:
        metrics["agreement"] = candidate.agreement
    if candidate.speed is not None:
        for batch in candidate.speed.batches:
            metrics[f"rows_per_second_{batch.batch_size}"] = batch.rows_per_second
            metrics[f"median_ms_{batch.batch_size}"] = batch.median_ms
        if candidate.speed.artifact_bytes is not None:
            metrics["artifact_bytes"] = float(candidate.speed.artifact_bytes)
    return {k: v for k, v in metrics.items() if math.isfinite(v)}


def _compression_summary(candidates: list[Candidate]) -> dict[str, Any] | None:
    """Size, speed and fidelity of each pruned/distilled candidate next to the original's."""
    original = next((c for c in candidates if c.name == "native"), None)
    compressed = [c for c in candidates if c.compressed]
    if not compressed:
        return None

    def figures(candidate: Candidate | None) -> dict[str, Any] | None:
        if candidate is None or candidate.speed is None:
            return None
        speed = candidate.speed
        at = {size: speed.at(size) for size in (1, 64, 10_000)}
        return {
            "artifact_bytes": speed.artifact_bytes,
            "median_ms": {str(s): b.median_ms for s, b in at.items() if b is not None},
            "rows_per_second": {str(s): b.rows_per_second for s, b in at.items() if b is not None},
        }

    return {
        "before": {**(figures(original) or {}), "fidelity": 1.0},
        "after": {
            c.name: {
                **(figures(c) or {}),
                "fidelity": c.agreement,
                "target": c.target,
                "passed": c.passed,
                "note": c.note,
            }
            for c in compressed
        },
    }
