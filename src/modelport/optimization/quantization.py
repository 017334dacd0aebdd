"""Quantization of an ONNX graph: dynamic int8 weights, or float16 initializers.

Quantization only pays where the weights are matrices (MatMul/Gemm of linear models and
MLPs). A tree ensemble keeps its thresholds as node attributes, not initializers, so
there is nothing to shrink: it is refused with a pointer to pruning or distillation
rather than returned unchanged under a new name.

Both modes keep the graph's inputs and outputs float32, so the ONNX flavor feeds the
quantized model exactly as it fed the original.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from modelport.errors import OptimizationError, UnsupportedModel
from modelport.flavors._common import import_optional

Mode = Literal["dynamic", "fp16"]
MODES: tuple[str, ...] = ("dynamic", "fp16")

#: ops whose weights dynamic int8 quantization rewrites
_WEIGHT_OPS = frozenset({"MatMul", "Gemm"})
#: ops that only a quantized graph has: their absence means nothing was quantized
_QUANTIZED_OPS = frozenset(
    {"MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul", "QLinearMatMul"}
)
#: ai.onnx.ml ops have no float16 kernels in onnxruntime: they stay float32
_ML_DOMAIN = "ai.onnx.ml"


def op_types(model: Any) -> set[str]:
    """The op types of the main graph (subgraphs of If/Loop are not looked into)."""
    return {node.op_type for node in model.graph.node}


def _refuse_tree_ensembles(model: Any) -> None:
    if any(op.startswith("TreeEnsemble") for op in op_types(model)):
        raise UnsupportedModel(
            "quantization does not apply to tree ensembles: they have no weight matrices",
            hint="tree thresholds are node attributes; the plain ONNX conversion is "
            "already the fast form of a forest (run without --quantize); to make it "
            "smaller, keep fewer trees (--prune 0.99) or train a student (--distill 0.97)",
        )


def quantize(model: Any, mode: Mode) -> Any:
    """A quantized copy of the ONNX ``model``; the original is not changed.

    ``dynamic``: int8 weights for MatMul/Gemm (onnxruntime's ``quantize_dynamic``),
    activations quantized at run time. ``fp16``: float initializers to float16, with
    ai.onnx.ml ops kept float32 and float32 inputs and outputs.
    """
    onnx = import_optional("onnx", "onnx")
    if not isinstance(model, onnx.ModelProto):
        raise UnsupportedModel(
            f"quantization needs an onnx.ModelProto, not {type(model).__name__}",
            hint="convert the model to ONNX first (modelport optimize --onnx)",
        )
    if mode not in MODES:
        raise UnsupportedModel(
            f"unknown quantization mode {mode!r}",
            hint=f"use one of: {', '.join(MODES)}",
        )
    _refuse_tree_ensembles(model)
    quantized = _dynamic(model) if mode == "dynamic" else _fp16(model)
    _check_runs(quantized, mode)
    return quantized


def _dynamic(model: Any) -> Any:
    found = op_types(model) & _WEIGHT_OPS
    if not found:
        raise UnsupportedModel(
            "dynamic int8 quantization found no MatMul or Gemm to quantize "
            f"(ops: {', '.join(sorted(op_types(model)))})",
            hint="it applies to linear models and neural networks; try --fp16 or --distill",
        )
    onnx = import_optional("onnx", "onnx")
    quantization = import_optional("onnxruntime.quantization", "onnx")
    # quantize_dynamic reads and writes files only
    with tempfile.TemporaryDirectory(prefix="modelport-quantize-") as tmp:
        source, target = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        onnx.save_model(model, str(source))
        try:
            quantization.quantize_dynamic(
                str(source),
                str(target),
                # onnxruntime rewrites a Gemm (PyTorch's Linear) as MatMul + Add and then
                # quantizes MatMul only: asked for Gemm alone it quantized nothing
                op_types_to_quantize=sorted(found | {"MatMul"}),
                weight_type=quantization.QuantType.QInt8,
            )
        except Exception as exc:
            raise OptimizationError(
                f"dynamic quantization failed: {exc}",
                hint="try --fp16, or keep the float model",
            ) from exc
        quantized = onnx.load_model(str(target))
    if not op_types(quantized) & _QUANTIZED_OPS:
        raise UnsupportedModel(
            "dynamic int8 quantization left every weight in float "
            f"(ops: {', '.join(sorted(op_types(quantized)))})",
            hint="onnxruntime found no weight it quantizes here; try --quantize fp16",
        )
    return quantized


def _fp16(model: Any) -> Any:
    float16 = import_optional("onnxconverter_common.float16", "onnx")
    if not any(_is_float_initializer(init) for init in model.graph.initializer):
        raise UnsupportedModel(
            "float16 conversion found no float weights in the graph",
            hint="it applies to linear models and neural networks; try --distill",
        )
    blocked = sorted(
        {node.op_type for node in model.graph.node if node.domain == _ML_DOMAIN}
        | set(float16.DEFAULT_OP_BLOCK_LIST)
    )
    try:
        return float16.convert_float_to_float16(
            _without_input_casts(model),
            keep_io_types=True,
            op_block_list=blocked,
            disable_shape_infer=False,
        )
    except Exception as exc:
        raise OptimizationError(
            f"float16 conversion failed: {exc}", hint="try --dynamic, or keep the float model"
        ) from exc


def _without_input_casts(model: Any) -> Any:
    """A copy without the float-to-float Casts of graph inputs that skl2onnx emits.

    The converter drops such a Cast together with the float16 cast it should insert
    for the input, leaving a float32 input wired straight into a float16 MatMul.
    """
    onnx = import_optional("onnx", "onnx")
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    graph = copy.graph
    float_inputs = {
        i.name for i in graph.input if i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    }
    renamed: dict[str, str] = {}
    for node in list(graph.node):
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if (
            node.op_type == "Cast"
            and to == onnx.TensorProto.FLOAT
            and node.input[0] in float_inputs
        ):
            renamed[node.output[0]] = node.input[0]
            graph.node.remove(node)
    outputs = {o.name for o in graph.output}
    if renamed.keys() & outputs:
        return model  # an input cast straight to an output: leave the graph as it was
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]
    return copy


def _is_float_initializer(tensor: Any) -> bool:
    onnx = import_optional("onnx", "onnx")
    return bool(tensor.data_type == onnx.TensorProto.FLOAT)


def _check_runs(model: Any, mode: str) -> None:
    """Refuse a graph onnxruntime cannot build on CPU (an op without a kernel for the type)."""
    ort = import_optional("onnxruntime", "onnx")
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise UnsupportedModel(
            f"the {mode} quantized graph does not load in onnxruntime on CPU: {exc}",
            hint="an op has no kernel for the quantized type; keep the float model",
        ) from exc
