"""Converting a PyTorch version to ONNX, with the outputs the ONNX flavor expects.

The module itself is exported as it is stored: a ``torch.export`` program through
``torch.onnx.export`` (the dynamo exporter, which takes a program directly), a TorchScript
module through the TorchScript-based exporter (the dynamo exporter cannot trace into
one). Either way the graph has one float input named ``input`` of shape
``[batch, n_features]`` with a dynamic batch axis, and one raw output. The part the
PyTorch flavor computes around the module is then appended to the graph as ONNX nodes,
so both runtimes compute the same thing:

* a classifier gets ``label`` (the class at the ArgMax, gathered from the classes as
  int64 or string) and ``probabilities`` (Softmax of logits, a Sigmoid column pair for a
  single logit, or the module's probabilities as they are), and its classes are written
  as the ``modelport.classes`` metadata, which the ONNX flavor reads;
* a regressor's output is named ``variable``, as skl2onnx names it.

The default opset is 18, which onnxruntime runs and both exporters write. A program
exported with a fixed batch size cannot become a graph for any batch and is refused.
Converting needs the ``onnx`` extra, and for programs onnxscript (in the ``torch`` extra),
which the dynamo exporter builds its graphs with.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import numpy as np

from modelport.errors import ModelportError, UnsupportedModel
from modelport.flavors._common import import_optional
from modelport.flavors.onnx import CLASSES_METADATA
from modelport.flavors.pytorch import TorchPredictor, import_torch, torch_quiet

#: the default domain's opset of the exported graph
OPSET = 18
#: rows of the sample the module is exported with (two or more keep the batch dynamic)
_EXAMPLE_ROWS = 8


def to_onnx(predictor: Any, inputs: np.ndarray) -> Any:
    """An ``onnx.ModelProto`` computing what the PyTorch ``predictor`` computes.

    ``inputs``: model-ready rows (the version's validated sample), used as the example
    the module is exported with. Raises UnsupportedModel when the module cannot be
    exported, MissingExtraError when the ``onnx`` or ``torch`` extra is missing.
    """
    onnx = import_optional("onnx", "onnx")
    torch = import_torch()
    if not isinstance(predictor, TorchPredictor) or predictor.module is None:
        raise UnsupportedModel(
            f"the pytorch conversion needs a loaded PyTorch model, not {type(predictor).__name__}",
            hint="load the version with modelport.load first",
        )
    if predictor.fixed_batch is not None:
        raise UnsupportedModel(
            f"the torch.export program was exported for batches of exactly "
            f"{predictor.fixed_batch} rows, so its ONNX graph could take no other batch size",
            hint="export it with a dynamic batch dimension: torch.export.export(model, (x,), "
            "dynamic_shapes=({0: torch.export.Dim('batch')},)), or register the nn.Module",
        )
    rows = predictor.features(inputs)[:_EXAMPLE_ROWS]
    if len(rows) == 1:
        rows = np.repeat(rows, 2, axis=0)
    example = torch.from_numpy(np.ascontiguousarray(rows))
    with _unsupported(), torch_quiet(), contextlib.redirect_stdout(io.StringIO()):
        proto = _export(torch, onnx, predictor, example)
        # the output's shape decides the head; ask the predictor, not the graph's shapes
        flat, width = _shape(predictor.scores(rows))
    proto = _with_head(onnx, proto, predictor, flat, width)
    with _unsupported():
        onnx.checker.check_model(proto)
    return proto


def _export(torch: Any, onnx: Any, predictor: TorchPredictor, example: Any) -> Any:
    if predictor.program is not None:
        import_optional("onnxscript", "torch")  # the dynamo exporter builds graphs with it
        program = torch.onnx.export(
            predictor.program,
            (),
            dynamo=True,
            input_names=["input"],
            output_names=["output"],
            opset_version=OPSET,
            verbose=False,
        )
        return program.model_proto
    buffer = io.BytesIO()
    torch.onnx.export(
        predictor.module,
        (example,),
        buffer,
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        opset_version=OPSET,
    )
    return onnx.load_from_string(buffer.getvalue())


def _shape(scores: Any) -> tuple[bool, int]:
    """Whether the module gives one value per row as a 1-D tensor, and values per row."""
    if scores.ndim == 1:
        return True, 1
    if scores.ndim != 2:
        raise UnsupportedModel(
            f"the PyTorch model's output has shape {tuple(scores.shape)}; ONNX conversion "
            "handles one row of values per input row",
            hint="register a module returning (rows,) or (rows, outputs)",
        )
    return False, int(scores.shape[1])


def _with_head(onnx: Any, proto: Any, predictor: TorchPredictor, flat: bool, width: int) -> Any:
    """Append what the flavor computes around the module, and name the outputs."""
    helper, tensor = onnx.helper, onnx.TensorProto
    graph = proto.graph
    if len(graph.output) != 1:
        raise UnsupportedModel(
            f"the exported PyTorch graph has {len(graph.output)} outputs; one is expected",
            hint="register a module whose forward returns a single tensor",
        )
    raw = graph.output[0].name
    del graph.output[:]
    if predictor.classes is None:
        graph.node.append(helper.make_node("Identity", [raw], ["variable"]))
        shape: list[Any] = ["batch"] if flat else ["batch", width]
        graph.output.append(helper.make_tensor_value_info("variable", tensor.FLOAT, shape))
        return proto
    classes = predictor.classes
    if width != len(classes) and not (width == 1 and len(classes) == 2):
        raise UnsupportedModel(
            f"the PyTorch classifier gives {width} scores per row for {len(classes)} classes",
            hint="give one class per output column (or one column for two classes)",
        )
    labels = _labels_tensor(onnx, classes)
    graph.initializer.append(labels)
    scores = raw
    if flat:
        shape_name = "modelport_column_shape"
        graph.initializer.append(helper.make_tensor(shape_name, tensor.INT64, [2], [-1, 1]))
        graph.node.append(helper.make_node("Reshape", [raw, shape_name], ["modelport_column"]))
        scores = "modelport_column"
    nodes = []
    if width == 1:
        positive = "modelport_positive"
        if predictor.outputs == "logits":
            nodes.append(helper.make_node("Sigmoid", [scores], [positive]))
        else:
            nodes.append(helper.make_node("Identity", [scores], [positive]))
        graph.initializer.append(helper.make_tensor("modelport_one", tensor.FLOAT, [], [1.0]))
        nodes += [
            helper.make_node("Sub", ["modelport_one", positive], ["modelport_negative"]),
            helper.make_node("Concat", ["modelport_negative", positive], ["probabilities"], axis=1),
        ]
    elif predictor.outputs == "logits":
        nodes.append(helper.make_node("Softmax", [scores], ["probabilities"], axis=1))
    else:
        nodes.append(helper.make_node("Identity", [scores], ["probabilities"]))
    nodes += [
        helper.make_node("ArgMax", ["probabilities"], ["modelport_index"], axis=1, keepdims=0),
        helper.make_node("Gather", [labels.name, "modelport_index"], ["label"], axis=0),
    ]
    graph.node.extend(nodes)
    graph.output.extend(
        [
            helper.make_tensor_value_info("label", labels.data_type, ["batch"]),
            helper.make_tensor_value_info("probabilities", tensor.FLOAT, ["batch", len(classes)]),
        ]
    )
    entry = proto.metadata_props.add()
    entry.key = CLASSES_METADATA
    entry.value = json.dumps(classes)
    return proto


def _labels_tensor(onnx: Any, classes: list[Any]) -> Any:
    """The classes as a constant tensor: int64 for integer labels, string for text."""
    helper, tensor = onnx.helper, onnx.TensorProto
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return helper.make_tensor("modelport_classes", tensor.INT64, [len(classes)], classes)
    if all(isinstance(c, str) for c in classes):
        values = [c.encode() for c in classes]
        return helper.make_tensor("modelport_classes", tensor.STRING, [len(classes)], values)
    raise UnsupportedModel(
        f"the classes {classes!r} are neither all integers nor all strings, which is what an "
        "ONNX label output can hold",
        hint="register the PyTorch classifier with integer or string classes",
    )


class _unsupported:
    """An exporter's own exception becomes UnsupportedModel, saying it came from PyTorch."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, ModelportError) or not isinstance(exc, Exception):
            return None
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModel(
            f"cannot convert the PyTorch model to ONNX: {detail[:300]}",
            hint="modules made of standard layers export; custom Python control flow may not "
            "(see https://pytorch.org/docs/stable/onnx.html)",
        ) from exc
