"""ONNX models (an ``onnx.ModelProto``), run with onnxruntime on the CPU.

Feeding: a graph with one input gets the whole batch as a 2-D array cast to
that input's element type; a graph with several inputs gets one ``(n, 1)``
column per input, matched by name against the DataFrame's columns.

Outputs follow the skl2onnx convention: a classifier has a label output and a
probability output, the latter either a tensor or, with ZipMap, a list of
``{class: probability}`` dicts; both are handled. The class labels are read
from the graph at save time: the metadata entry ``modelport.classes`` (a JSON list, which
modelport's conversions write because some graphs, an MLP's ArgMax, have no node naming
them), else the ZipMap or classifier node's ``classlabels_*`` attribute. When the graph
has neither, ``classes`` is None and ``predict`` still returns the label output; a version
saved before the metadata was read takes it from the session at load. A regressor has one
output, flattened to 1-D.

Session settings come from the flavor options: ``providers`` (onnxruntime execution
providers in order of preference; default CPU only), ``intra_op_num_threads`` (default 1:
a server runs several requests at once, and one thread per session keeps them from
fighting over the cores) and ``graph_optimization_level`` (default ``ORT_ENABLE_ALL``).
Wrap a proto in :class:`ONNXModel` to choose them at registration. A requested provider
that this onnxruntime build lacks is an error naming the package that has it, unless the
list also names ``CPUExecutionProvider``: then the missing accelerators are skipped with a
warning and the model runs on what remains, so one artifact serves on GPU and CPU hosts.
Versions saved before these options existed load as before (CPU, one thread).

Loading runs the graph once on a synthetic row, so that the first client request does
not pay onnxruntime's first-run cost (memory planning, kernel selection).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from modelport.errors import ArtifactError, ConfigurationError, FlavorError, ModelportError
from modelport.flavors._common import (
    artifact_file,
    exact_class,
    import_optional,
    predicting,
    translate,
    unknown_serialization,
)
from modelport.flavors.base import Predictor, Task

#: onnxruntime type strings of the inputs we know how to feed
_NUMPY_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.str_,
}
_LABEL_TYPES = ("tensor(int64)", "tensor(int32)", "tensor(string)")
_CLASS_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
#: the model metadata key holding the class labels as a JSON list, in probability order
CLASSES_METADATA = "modelport.classes"
_CPU = "CPUExecutionProvider"
#: the pip package that ships each execution provider missing from the plain CPU build
_PROVIDER_PACKAGES = {
    "CUDAExecutionProvider": "onnxruntime-gpu",
    "TensorrtExecutionProvider": "onnxruntime-gpu",
    "OpenVINOExecutionProvider": "onnxruntime-openvino",
    "DmlExecutionProvider": "onnxruntime-directml",
    "ROCMExecutionProvider": "onnxruntime-rocm",
    "MIGraphXExecutionProvider": "onnxruntime-rocm",
    "QNNExecutionProvider": "onnxruntime-qnn",
    "CoreMLExecutionProvider": "onnxruntime (a macOS build)",
    "DnnlExecutionProvider": "onnxruntime-dnnl",
}
_OPTIMIZATION_LEVELS = (
    "ORT_DISABLE_ALL",
    "ORT_ENABLE_BASIC",
    "ORT_ENABLE_EXTENDED",
    "ORT_ENABLE_ALL",
)

log = logging.getLogger("modelport.flavors")


@dataclass(frozen=True)
class ONNXModel:
    """An ONNX graph plus how onnxruntime should run it, for registration.

    ``intra_op_threads=None`` keeps the flavor's default of one thread per session.
    """

    proto: Any  # onnx.ModelProto; typed Any so that this module imports without onnx
    providers: tuple[str, ...] = (_CPU,)
    intra_op_threads: int | None = None
    graph_optimization_level: str = "ORT_ENABLE_ALL"

    def __post_init__(self) -> None:
        if not self.providers or not all(isinstance(p, str) and p for p in self.providers):
            raise ConfigurationError(
                f"providers must be a non-empty list of provider names, not {self.providers!r}",
                hint=f"e.g. providers=({_CPU!r},) or ('CUDAExecutionProvider', {_CPU!r})",
            )
        if self.intra_op_threads is not None and self.intra_op_threads < 0:
            raise ConfigurationError(
                f"intra_op_threads must be 0 (onnxruntime decides) or more, "
                f"not {self.intra_op_threads}",
                hint="leave it None for one thread per session, the serving default",
            )
        _optimization_level_name(self.graph_optimization_level)


def import_onnx() -> ModuleType:
    """The onnx module, or MissingExtraError naming the ``onnx`` extra."""
    return import_optional("onnx", "onnx")


def import_onnxruntime() -> ModuleType:
    """The onnxruntime module, or MissingExtraError naming the ``onnx`` extra."""
    return import_optional("onnxruntime", "onnx")


class ONNXPredictor:
    """An onnxruntime session plus what its inputs and outputs mean."""

    def __init__(self, session: Any, classes: list[Any] | None) -> None:
        self.session: Any = session
        # one graph run gives labels and probabilities; callers that want both ask
        # predict then predict_proba on the same batch (the server, when it logs), and
        # the second call takes the first's outputs instead of running every tree again (the
        # same object, per thread: a caller does not change a batch between the two calls)
        self._last = threading.local()
        self.inputs = session.get_inputs()
        self.outputs = session.get_outputs()
        types = [o.type for o in self.outputs]
        self.task: Task
        if len(types) >= 2 and types[0] in _LABEL_TYPES and _is_probability(types[1]):
            self.task = "classification"
            self.classes = classes
        else:
            self.classes = None
            single = len(self.outputs) == 1 and types[0] in ("tensor(float)", "tensor(double)")
            shape = self.outputs[0].shape if self.outputs else []
            one_column = len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)
            self.task = "regression" if single and one_column else "other"

    def _run(self, batch: Any) -> list[Any]:
        feed = self._feed(batch)
        with predicting("onnx"):
            return list(self.session.run(None, feed))

    def _feed(self, batch: Any) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:
            return {self.inputs[0].name: _cast(np.asarray(batch), self.inputs[0])}
        if isinstance(batch, pd.DataFrame):
            names = [i.name for i in self.inputs]
            missing = [name for name in names if name not in batch.columns]
            if missing:
                raise FlavorError(
                    f"the onnx model needs the inputs {', '.join(missing)}",
                    hint=f"the batch columns must include: {', '.join(names)}",
                )
            return {i.name: _cast(batch[i.name].to_numpy(), i) for i in self.inputs}
        array = np.asarray(batch)
        if array.ndim != 2 or array.shape[1] != len(self.inputs):
            raise FlavorError(
                f"the onnx model has {len(self.inputs)} inputs; the batch has shape {array.shape}",
                hint="pass a DataFrame with one column per model input",
            )
        return {i.name: _cast(array[:, k], i) for k, i in enumerate(self.inputs)}

    def predict(self, batch: Any) -> np.ndarray:
        outputs = self._run(batch)
        if self.task == "classification":
            self._last.pair = (batch, outputs[1])
        first = np.asarray(outputs[0])
        if self.task != "other" and first.ndim == 2 and first.shape[1] == 1:
            return first[:, 0]
        return first

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if self.task != "classification":
            return None
        last = getattr(self._last, "pair", None)
        self._last.pair = None
        proba = last[1] if last is not None and last[0] is batch else self._run(batch)[1]
        if isinstance(proba, list):  # ZipMap: one {class: probability} dict per row
            keys = self.classes
            if keys is None:
                keys = list(proba[0]) if proba else []
            return np.array([[row[k] for k in keys] for row in proba], dtype=np.float32)
        return np.asarray(proba)

    def close(self) -> None:
        """Drop the session: onnxruntime frees its memory and threads when it is collected."""
        self.session = None


class ONNXFlavor:
    """``onnx.ModelProto`` objects, e.g. from ``skl2onnx.to_onnx``."""

    name: ClassVar[str] = "onnx"
    extra: ClassVar[str | None] = "onnx"

    def handles(self, obj: Any) -> bool:
        if isinstance(obj, ONNXModel):
            return exact_class(obj.proto, "onnx", ("ModelProto",)) is not None
        return exact_class(obj, "onnx", ("ModelProto",)) is not None

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        onnx = import_onnx()
        if serialization not in (None, "onnx"):
            raise unknown_serialization(self.name, serialization, ["onnx"])
        if not self.handles(obj):
            raise FlavorError(
                f"the onnx flavor saves onnx.ModelProto or ONNXModel, not {type(obj).__name__}"
            )
        wrapper = obj if isinstance(obj, ONNXModel) else ONNXModel(obj)
        obj = wrapper.proto
        with translate(FlavorError, "the ONNX model is not valid"):
            onnx.checker.check_model(obj)
        path = Path(directory) / "model.onnx"
        with translate(FlavorError, "cannot save the ONNX model"):
            path.write_bytes(obj.SerializeToString())
        return {
            "serialization": "onnx",
            "file": path.name,
            "classes": _graph_classes(obj),
            "intra_op_num_threads": 1
            if wrapper.intra_op_threads is None
            else wrapper.intra_op_threads,
            "providers": list(wrapper.providers),
            "graph_optimization_level": wrapper.graph_optimization_level,
            "onnx_version": onnx.__version__,
        }

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        ort = import_onnxruntime()
        path = artifact_file(directory, options, "model.onnx")
        providers = usable_providers(
            list(options.get("providers") or [_CPU]), ort.get_available_providers()
        )
        level = _optimization_level_name(options.get("graph_optimization_level", "ORT_ENABLE_ALL"))
        with translate(ArtifactError, f"cannot load {path.name} into onnxruntime"):
            settings = ort.SessionOptions()
            settings.intra_op_num_threads = int(options.get("intra_op_num_threads", 1))
            # parallelism comes from concurrent requests, not from branches of one graph
            settings.inter_op_num_threads = 1
            settings.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            settings.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
            session = ort.InferenceSession(str(path), sess_options=settings, providers=providers)
        classes = options.get("classes")
        if classes is None:
            with translate(ArtifactError, f"the metadata of {path.name} is not readable"):
                classes = _metadata_classes(session.get_modelmeta().custom_metadata_map)
        predictor = ONNXPredictor(session, classes)
        warm_up(session)
        return predictor


def usable_providers(requested: list[str], available: list[str]) -> list[str]:
    """The requested providers this onnxruntime has, in order; see the module docstring."""
    missing = [p for p in requested if p not in available]
    if not missing:
        return requested
    if _CPU in requested:
        log.warning(
            "onnxruntime here lacks %s; the model runs on %s",
            ", ".join(missing),
            ", ".join(p for p in requested if p in available),
        )
        return [p for p in requested if p in available]
    packages = sorted({_PROVIDER_PACKAGES.get(p, "an onnxruntime build with it") for p in missing})
    raise ConfigurationError(
        f"the ONNX model asks for {', '.join(missing)}, which this onnxruntime does not have "
        f"(it has {', '.join(available)})",
        hint=f"install {' or '.join(packages)} in place of onnxruntime, or register the model "
        f"with {_CPU!r} in its providers to fall back to the CPU",
    )


def warm_up(session: Any) -> None:
    """Run the graph once on one synthetic row, so the first real request runs at speed.

    A graph that refuses the synthetic row (a string input it validates, say) is not
    broken for real data: the failure is logged and only the warm-up is lost.
    """
    feed = {}
    for node in session.get_inputs():
        dtype = _NUMPY_TYPES.get(node.type)
        if dtype is None:
            return
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in (node.shape or [1])]
        feed[node.name] = (
            np.full(shape, "", dtype=object) if dtype is np.str_ else np.zeros(shape, dtype=dtype)
        )
    try:
        session.run(None, feed)
    except Exception as exc:  # onnxruntime raises its own, untyped, errors
        log.info("the ONNX warm-up run failed (%s); the first request pays the first run", exc)


def _optimization_level_name(level: Any) -> str:
    if level not in _OPTIMIZATION_LEVELS:
        raise ConfigurationError(
            f"unknown graph_optimization_level {level!r}",
            hint=f"use one of {', '.join(_OPTIMIZATION_LEVELS)}",
        )
    return str(level)


def _metadata_classes(
    metadata: Any, error: type[ModelportError] = ArtifactError
) -> list[Any] | None:
    """The labels under :data:`CLASSES_METADATA` in a key -> value map, if there are any.

    ``error``: what a malformed entry raises (a graph handed to save is the caller's to
    fix, FlavorError; a stored artifact's is ArtifactError).
    """
    text = metadata.get(CLASSES_METADATA)
    if text is None:
        return None
    try:
        labels = json.loads(text)
    except ValueError as exc:
        raise error(
            f"the ONNX metadata {CLASSES_METADATA!r} is not JSON: {text[:80]!r}",
            hint='write the class labels as a JSON list, e.g. ["no", "yes"]',
        ) from exc
    if not isinstance(labels, list):
        raise error(
            f"the ONNX metadata {CLASSES_METADATA!r} is not a list of labels: {text[:80]!r}",
            hint='write the class labels as a JSON list, e.g. ["no", "yes"]',
        )
    return labels


def _graph_classes(model: Any) -> list[Any] | None:
    """Class labels stored with the graph: the metadata entry first (what modelport's own
    conversions write), else ZipMap's, else the last classifier node's."""
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    recorded = _metadata_classes(metadata, FlavorError)
    if recorded is not None:
        return recorded
    found: list[Any] | None = None
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name in _CLASS_ATTRIBUTES:
                values = attribute.strings or attribute.ints
                labels = [v.decode() if isinstance(v, bytes) else int(v) for v in values]
                if node.op_type == "ZipMap":
                    return labels
                found = labels
    return found


def _is_probability(type_name: str) -> bool:
    return type_name in ("tensor(float)", "tensor(double)") or type_name.startswith("seq(map(")


def _cast(values: np.ndarray, node: Any) -> np.ndarray:
    """Shape the values as the input expects (2-D unless it is declared 1-D) and cast them."""
    dtype = _NUMPY_TYPES.get(node.type)
    if dtype is None:
        raise FlavorError(f"the onnx input {node.name!r} has the unsupported type {node.type}")
    if values.ndim == 1 and len(node.shape) != 1:
        values = values.reshape(-1, 1)
    with predicting("onnx"):
        return values.astype(dtype)


ONNX = ONNXFlavor()
