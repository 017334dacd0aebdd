"""Converting a registered model to ONNX: scikit-learn, XGBoost and LightGBM.

The graph's inputs follow the version's signature, so the ONNX flavor feeds it the same
validated batch the original took: an "ndarray" signature gets one float tensor named
``input`` of shape ``[None, n_features]``; a "dataframe" signature one ``[None, 1]``
input per column, named like the column, float for numbers and string for categories.
Classifiers give (label, probabilities) as plain tensors (no ZipMap), probabilities in
the order of ``predictor.classes``.

Anything a converter refuses or fails on becomes UnsupportedModel naming the type: a
model is never converted approximately, and the caller's parity check is what proves a
conversion right.
"""

from __future__ import annotations

import copy
import importlib
import json
from typing import Any

import numpy as np

from modelport.errors import ModelportError, UnsupportedModel
from modelport.flavors._common import import_optional
from modelport.flavors.base import Predictor
from modelport.flavors.onnx import CLASSES_METADATA
from modelport.schema import Signature

#: The default domain's opset. onnxmltools' LightGBM and XGBoost converters know
#: opsets up to 15 (onnxconverter-common's maximum); one opset for every converter keeps
#: a Pipeline that mixes skl2onnx and onnxmltools converters consistent.
TARGET_OPSET = 15
#: ai.onnx.ml 3 is the TreeEnsemble version that the opset-15 converters emit
ML_OPSET = 3

SUPPORTED = (
    "scikit-learn estimators and Pipelines that skl2onnx converts (ColumnTransformer, "
    "SimpleImputer, StandardScaler, OneHotEncoder, OrdinalEncoder; LogisticRegression, "
    "linear regressors, RandomForest, ExtraTrees, GradientBoosting, HistGradientBoosting, "
    "DecisionTree, MLP, ...), XGBoost and LightGBM (scikit-learn wrappers, native Boosters, "
    "or as a Pipeline's last step), PyTorch modules"
)


def to_onnx(flavor: str, predictor: Predictor, signature: Signature, inputs: Any) -> Any:
    """An ``onnx.ModelProto`` predicting what ``predictor`` predicts.

    ``inputs`` is model-ready input (``validate(signature, frame)``), used for the
    number of features and their types. Raises UnsupportedModel when no converter
    applies, MissingExtraError when the ``onnx`` extra is not installed.
    """
    if flavor == "onnx":
        raise UnsupportedModel(
            "the model is already ONNX", hint="optimize it with --quantize, not a conversion"
        )
    if flavor == "pytorch":
        # written by another part of issue 13; imported by name so this module stands alone
        torch_conversion = importlib.import_module("modelport.optimization.torch_conversion")
        return torch_conversion.to_onnx(predictor, np.asarray(inputs))
    import_optional("onnx", "onnx")
    if flavor == "sklearn":
        proto = _convert_sklearn(getattr(predictor, "estimator", None), signature)
        return _with_classes(proto, predictor.classes)
    if flavor in ("xgboost", "lightgbm"):
        model = getattr(predictor, "model" if flavor == "xgboost" else "booster", None)
        return _with_classes(_convert_boosting(flavor, model, signature), predictor.classes)
    raise UnsupportedModel(
        f"no ONNX converter for the {flavor} flavor", hint=f"supported: {SUPPORTED}"
    )


def _convert_sklearn(estimator: Any, signature: Signature) -> Any:
    skl2onnx = import_optional("skl2onnx", "onnx")
    if estimator is None:
        raise UnsupportedModel("the sklearn predictor holds no estimator", hint=SUPPORTED)
    final = estimator.steps[-1][1] if type(estimator).__name__ == "Pipeline" else estimator
    if _library(final) in ("xgboost", "lightgbm"):
        _register_boosting_converters(_library(final))
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    # Only a ColumnTransformer selects columns by name; every other estimator takes one
    # matrix, so numeric columns are converted as one tensor and concatenated in the graph.
    by_name = signature.input_kind == "dataframe" and _selects_columns(estimator)
    if signature.input_kind == "dataframe" and not by_name and signature.categorical:
        raise UnsupportedModel(
            f"the {type(estimator).__name__} takes the string columns "
            f"{', '.join(signature.categorical)} without a ColumnTransformer to encode them",
            hint="convert a Pipeline whose first step is a ColumnTransformer",
        )
    initial = _initial_types(signature) if by_name else _one_tensor(signature)
    with _unsupported(estimator):
        proto = skl2onnx.to_onnx(
            estimator,
            initial_types=initial,
            options=options,
            target_opset={"": TARGET_OPSET, "ai.onnx.ml": ML_OPSET},
        )
    if signature.input_kind == "dataframe" and not by_name:
        proto = _column_inputs(proto, signature.names)
    return proto


def _with_classes(proto: Any, classes: list[Any] | None) -> Any:
    """Record the classes as metadata too: some graphs (MLP's ArgMax) have no classifier
    node whose ``classlabels_*`` the ONNX flavor could read them from."""
    if classes is not None:
        entry = proto.metadata_props.add()
        entry.key = CLASSES_METADATA
        entry.value = json.dumps(classes)
    return proto


def _selects_columns(estimator: Any) -> bool:
    first = estimator.steps[0][1] if type(estimator).__name__ == "Pipeline" else estimator
    return type(first).__name__ == "ColumnTransformer"


def _one_tensor(signature: Signature) -> list[tuple[str, Any]]:
    types = import_optional("skl2onnx.common.data_types", "onnx")
    return [("input", types.FloatTensorType([None, len(signature.inputs)]))]


def _convert_boosting(flavor: str, model: Any, signature: Signature) -> Any:
    """onnxmltools' converter, with one tensor input; per-column inputs are concatenated."""
    onnxmltools = import_optional("onnxmltools", "onnx")
    types = import_optional("onnxmltools.convert.common.data_types", "onnx")
    if model is None:
        raise UnsupportedModel(f"the {flavor} predictor holds no model", hint=SUPPORTED)
    if signature.input_kind == "dataframe" and any(
        f.kind not in ("float", "integer") for f in signature.inputs
    ):
        raise UnsupportedModel(
            f"the {flavor} model takes non-numeric columns "
            f"({', '.join(signature.categorical)}), which its ONNX converter cannot encode",
            hint="convert a model trained on numeric features, or a scikit-learn Pipeline "
            "that encodes the categories before the booster",
        )
    initial = [("input", types.FloatTensorType([None, len(signature.inputs)]))]
    if flavor == "xgboost":
        model = _unnamed_features(model)
    convert = onnxmltools.convert_xgboost if flavor == "xgboost" else onnxmltools.convert_lightgbm
    extra: dict[str, Any] = {"zipmap": False} if flavor == "lightgbm" else {}
    with _unsupported(model):
        proto = convert(model, initial_types=initial, target_opset=TARGET_OPSET, **extra)
    proto = _without_zipmap(proto)
    if signature.input_kind == "dataframe":
        proto = _column_inputs(proto, signature.names)
    return proto


def _unnamed_features(model: Any) -> Any:
    """A copy without feature names: onnxmltools reads features only as ``f0, f1, ...``."""
    copied = copy.deepcopy(model)
    booster = copied if type(copied).__name__ == "Booster" else copied.get_booster()
    booster.feature_names = None
    booster.feature_types = None
    return copied


def _initial_types(signature: Signature) -> list[tuple[str, Any]]:
    types = import_optional("skl2onnx.common.data_types", "onnx")
    initial: list[tuple[str, Any]] = []
    for feature in signature.inputs:
        if feature.kind in ("float", "integer"):
            initial.append((feature.name, types.FloatTensorType([None, 1])))
        elif feature.kind in ("category", "string"):
            initial.append((feature.name, types.StringTensorType([None, 1])))
        else:
            raise UnsupportedModel(
                f"the input column {feature.name!r} is a {feature.kind}, which has no ONNX "
                "input type here",
                hint="convert a model whose inputs are numbers, strings or categories",
            )
    return initial


def _register_boosting_converters(library: str) -> None:
    """Teach skl2onnx the XGBoost/LightGBM wrappers, so they convert as a Pipeline's step."""
    skl2onnx = import_optional("skl2onnx", "onnx")
    shapes = import_optional("skl2onnx.common.shape_calculator", "onnx")
    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    if library == "xgboost":
        xgb = import_optional("xgboost", "xgboost")
        conv = import_optional("onnxmltools.convert.xgboost.operator_converters.XGBoost", "onnx")
        pairs = [(xgb.XGBClassifier, True), (xgb.XGBRegressor, False)]
        convert = conv.convert_xgboost
        alias = "XGBoostXGB"
    else:
        lgb = import_optional("lightgbm", "lightgbm")
        conv = import_optional("onnxmltools.convert.lightgbm.operator_converters.LightGbm", "onnx")
        pairs = [(lgb.LGBMClassifier, True), (lgb.LGBMRegressor, False)]
        convert = conv.convert_lightgbm
        alias = "LightGbmLGBM"
    for cls, classifier in pairs:
        skl2onnx.update_registered_converter(
            cls,
            alias + ("Classifier" if classifier else "Regressor"),
            shapes.calculate_linear_classifier_output_shapes
            if classifier
            else shapes.calculate_linear_regressor_output_shapes,
            convert,
            options=options if classifier else None,
        )


def _without_zipmap(proto: Any) -> Any:
    """Drop a trailing ZipMap (onnxmltools' XGBoost converter always adds one)."""
    zipmaps = [n for n in proto.graph.node if n.op_type == "ZipMap"]
    if not zipmaps:
        return proto
    onnx = import_optional("onnx", "onnx")
    node = zipmaps[0]
    tensor = node.input[0]
    output = next(o for o in proto.graph.output if o.name == node.output[0])
    proto.graph.node.remove(node)
    index = list(proto.graph.output).index(output)
    proto.graph.output.remove(output)
    replacement = onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, [None, None])
    proto.graph.output.insert(index, replacement)
    return proto


def _column_inputs(proto: Any, names: list[str]) -> Any:
    """Replace the one ``input`` tensor with one ``[None, 1]`` input per column, concatenated."""
    onnx = import_optional("onnx", "onnx")
    graph = proto.graph
    original = graph.input[0]
    del graph.input[:]
    graph.input.extend(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [None, 1])
        for name in names
    )
    concat = onnx.helper.make_node("Concat", list(names), [original.name], axis=1)
    graph.node.insert(0, concat)
    if not any(o.domain in ("", "ai.onnx") for o in proto.opset_import):
        # a graph of ai.onnx.ml ops only (XGBoost's) imports no default opset for Concat
        proto.opset_import.append(onnx.helper.make_opsetid("", TARGET_OPSET))
    return proto


def _library(obj: Any) -> str:
    return (type(obj).__module__ or "").partition(".")[0]


class _unsupported:
    """A converter's own exception becomes UnsupportedModel naming the model's type."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, ModelportError) or not isinstance(exc, Exception):
            return None
        kind = type(self.model).__name__
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModel(
            f"cannot convert the {kind} to ONNX: {detail[:300]}", hint=f"supported: {SUPPORTED}"
        ) from exc
