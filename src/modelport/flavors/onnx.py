"""ONNX models (an ``onnx.ModelProto``), run with onnxruntime on the CPU.

Feeding: a graph with one input gets the whole batch as a 2-D array cast to
that input's element type; a graph with several inputs gets one ``(n, 1)``
column per input, matched by name against the DataFrame's columns.

Outputs follow the skl2onnx convention: a classifier has a label output and a
probability output, the latter either a tensor or, with ZipMap, a list of
``{class: probability}`` dicts; both are handled. The class labels are read
from the graph at save time (the ZipMap or classifier node's ``classlabels_*``
attribute); when the graph has none, ``classes`` is None and ``predict`` still
returns the label output. A regressor has one output, flattened to 1-D.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from modelport.errors import ArtifactError, FlavorError
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
        first = np.asarray(self._run(batch)[0])
        if self.task != "other" and first.ndim == 2 and first.shape[1] == 1:
            return first[:, 0]
        return first

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if self.task != "classification":
            return None
        proba = self._run(batch)[1]
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
        return exact_class(obj, "onnx", ("ModelProto",)) is not None

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        onnx = import_onnx()
        if serialization not in (None, "onnx"):
            raise unknown_serialization(self.name, serialization, ["onnx"])
        if not self.handles(obj):
            raise FlavorError(f"the onnx flavor saves onnx.ModelProto, not {type(obj).__name__}")
        with translate(FlavorError, "the ONNX model is not valid"):
            onnx.checker.check_model(obj)
        path = Path(directory) / "model.onnx"
        with translate(FlavorError, "cannot save the ONNX model"):
            path.write_bytes(obj.SerializeToString())
        return {
            "serialization": "onnx",
            "file": path.name,
            "classes": _graph_classes(obj),
            "intra_op_num_threads": 1,
            "onnx_version": onnx.__version__,
        }

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        ort = import_onnxruntime()
        path = artifact_file(directory, options, "model.onnx")
        with translate(ArtifactError, f"cannot load {path.name} into onnxruntime"):
            settings = ort.SessionOptions()
            settings.intra_op_num_threads = int(options.get("intra_op_num_threads", 1))
            session = ort.InferenceSession(
                str(path), sess_options=settings, providers=["CPUExecutionProvider"]
            )
        return ONNXPredictor(session, options.get("classes"))


def _graph_classes(model: Any) -> list[Any] | None:
    """Class labels stored in the graph: ZipMap's first, else the last classifier node's."""
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
