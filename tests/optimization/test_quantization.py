"""Quantization of real skl2onnx graphs, run in onnxruntime: size and probability drift."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelport.errors import UnsupportedModel
from modelport.optimization.quantization import quantize

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


def _data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=30, n_informative=10, random_state=0)
    return X.astype(np.float32), y


def _to_onnx(model: Any, X: np.ndarray) -> Any:
    return skl2onnx.to_onnx(model, X[:1], options={id(model): {"zipmap": False}})


def _run(proto: Any, X: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return list(session.run(None, {session.get_inputs()[0].name: X}))


@pytest.fixture(scope="module")
def mlp() -> tuple[Any, np.ndarray]:
    from sklearn.neural_network import MLPClassifier

    X, y = _data()
    model = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=60, random_state=0)
    with pytest.warns(Warning):  # not converged in 60 iterations: fine for the weights' size
        model.fit(X, y)
    return _to_onnx(model, X), X


@pytest.mark.parametrize("mode", ["dynamic", "fp16"])
def test_mlp_is_smaller_and_predicts_nearly_the_same(
    mlp: tuple[Any, np.ndarray], mode: str
) -> None:
    proto, X = mlp
    quantized = quantize(proto, mode)  # type: ignore[arg-type]
    before, after = len(proto.SerializeToString()), len(quantized.SerializeToString())
    (labels, probabilities), (q_labels, q_probabilities) = _run(proto, X), _run(quantized, X)
    max_diff = float(np.abs(probabilities - q_probabilities).max())
    changed = float(np.mean(labels != q_labels))
    print(
        f"{mode}: {before} -> {after} bytes ({before / after:.2f}x), "
        f"max probability diff {max_diff:.5f}, labels changed {changed:.4f}"
    )
    assert after < before / (3 if mode == "dynamic" else 1.5)
    assert max_diff < (0.05 if mode == "dynamic" else 0.005)
    assert changed < 0.02
    # the feeding does not change: still one float32 input, float32 probabilities
    session = ort.InferenceSession(
        quantized.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    assert [i.type for i in session.get_inputs()] == ["tensor(float)"]
    assert q_probabilities.dtype == np.float32
    # the original is untouched
    assert len(proto.SerializeToString()) == before


def test_linear_model_without_matmul_is_refused_for_dynamic() -> None:
    """skl2onnx writes LogisticRegression as one ai.onnx.ml LinearClassifier: no MatMul."""
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    proto = _to_onnx(LogisticRegression(max_iter=500).fit(X, y), X)
    with pytest.raises(UnsupportedModel, match="no MatMul or Gemm"):
        quantize(proto, "dynamic")


@pytest.mark.parametrize("mode", ["dynamic", "fp16"])
def test_tree_ensemble_is_refused(mode: str) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data()
    proto = _to_onnx(RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y), X)
    with pytest.raises(
        UnsupportedModel, match="tree ensembles: they have no weight matrices"
    ) as info:
        quantize(proto, mode)  # type: ignore[arg-type]
    assert "--prune" in (info.value.hint or "") and "--distill" in (info.value.hint or "")


def test_not_onnx_and_unknown_mode_are_refused(mlp: tuple[Any, np.ndarray]) -> None:
    with pytest.raises(UnsupportedModel, match=r"onnx\.ModelProto, not dict"):
        quantize({}, "dynamic")
    with pytest.raises(UnsupportedModel, match="unknown quantization mode 'int4'"):
        quantize(mlp[0], "int4")  # type: ignore[arg-type]
