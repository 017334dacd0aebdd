"""PyTorch to ONNX: the graph predicts what the module predicts, and optimize registers it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelport
from modelport.errors import UnsupportedModel
from modelport.loaded import load_model
from modelport.optimization.conversion import to_onnx
from modelport.optimization.parity import Tolerance, compare, outputs_of
from modelport.optimization.quantization import op_types
from modelport.registry import Registry
from modelport.services.optimization import optimize

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from modelport.flavors.pytorch import TorchModel  # noqa: E402


@pytest.fixture(autouse=True)
def _threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def sample(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    frame["d"] = frame["d"] * 100  # one wide column: float32 differences scale with it
    return frame


def net(outputs: int, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, outputs)
    )


MODELS = {
    "multiclass": lambda: TorchModel(net(3), classes=["low", "mid", "high"], outputs="logits"),
    "binary-logit": lambda: TorchModel(net(1), classes=[0, 1], outputs="logits"),
    "probabilities": lambda: TorchModel(
        torch.nn.Sequential(net(3), torch.nn.Softmax(dim=1)),
        classes=[10, 20, 30],
        outputs="probabilities",
    ),
    "regressor": lambda: TorchModel(net(1)),
}


@pytest.mark.parametrize("fmt", ["export", "torchscript"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_the_graph_is_within_parity_of_the_module(registry: Registry, kind: str, fmt: str) -> None:
    frame = sample()
    model = MODELS[kind]()
    spec = TorchModel(
        model.model,
        classes=model.classes,
        outputs=model.outputs,
        format=fmt,  # type: ignore[arg-type]
    )
    version = modelport.register(spec, "torch", sample=frame, registry=registry)
    assert version.flavor_options["serialization"] == fmt
    loaded = load_model(registry, version.ref)
    assert loaded.signature is not None
    inputs = loaded.prepare(frame)
    proto = to_onnx("pytorch", loaded.predictor, loaded.signature, inputs)
    converted = modelport.register(proto, "graph", sample=frame, registry=registry)
    graph = load_model(registry, converted.ref)
    assert graph.predictor.task == loaded.predictor.task
    assert graph.classes == loaded.classes
    report = compare(
        outputs_of(loaded, inputs), outputs_of(graph, graph.prepare(frame)), Tolerance()
    )
    assert report.passed, report.to_dict()
    assert report.label_changes == 0.0
    # a batch size the example never had: the batch axis is dynamic
    rows = frame.head(3).to_dict("records")
    got, expected = graph.predict(rows), loaded.predict(rows)
    if loaded.classes is None:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    else:
        assert list(got) == list(expected)


def test_optimize_registers_an_onnx_version_that_predicts_within_tolerance(
    registry: Registry,
) -> None:
    frame = sample()
    model = MODELS["multiclass"]()
    original = modelport.register(model, "species", sample=frame, registry=registry)
    report = optimize(registry, "species:1", runtime="onnx", register=True, repeats=1)
    data = report.to_dict()
    assert data["version"] == "species:2" and data["runtime"] == "onnx"
    assert data["parity"]["passed"] and data["parity"]["label_changes"] == 0.0
    assert set(data["speed"]) == {"native", "onnx"}
    new = registry.get("species:2")
    assert new.flavor == "onnx" and new.parent_version == original.version
    assert new.tags["optimized_from"] == "species:1"
    assert new.signature is not None and original.signature is not None
    assert new.signature["outputs"]["classes"] == ["low", "mid", "high"]
    records = frame.to_dict("records")
    before = modelport.load("species:1", registry=registry)
    after = modelport.load("species:2", registry=registry)
    assert list(after.predict(records)) == list(before.predict(records))
    np.testing.assert_allclose(
        after.predict_proba(records), before.predict_proba(records), atol=1e-5
    )


def test_optimize_a_regressor_with_dynamic_quantization_reports_its_fidelity(
    registry: Registry,
) -> None:
    frame = sample()
    modelport.register(MODELS["regressor"](), "price", sample=frame, registry=registry)
    report = optimize(registry, "price:1", runtime="onnx", quantize="dynamic", repeats=1)
    by_name = {c.name: c for c in report.candidates}
    assert by_name["onnx"].passed
    quantized = by_name["onnx+dynamic"]
    assert quantized.parity is not None
    # int8 weights: not the same model to 1e-4 of the output scale, and the report says so
    assert quantized.parity.max_abs_diff > by_name["onnx"].parity.max_abs_diff  # type: ignore[union-attr]
    assert "MatMulInteger" in op_types(quantized.model)  # PyTorch's Gemm was quantized


def test_a_program_with_a_fixed_batch_is_refused(registry: Registry) -> None:
    frame = sample()
    program = torch.export.export(net(1), (torch.zeros(5, 4),))
    version = modelport.register(program, "fixed", sample=frame, registry=registry)
    loaded = load_model(registry, version.ref)
    assert len(loaded.predict(frame.head(7))) == 7  # padded chunks natively
    assert loaded.signature is not None
    with pytest.raises(UnsupportedModel, match="exactly 5 rows") as info:
        to_onnx("pytorch", loaded.predictor, loaded.signature, loaded.prepare(frame))
    assert "dynamic_shapes" in (info.value.hint or "")


def test_classes_an_onnx_label_cannot_hold_are_refused(registry: Registry) -> None:
    frame = sample()
    model = TorchModel(net(2), classes=[0.5, 1.5], outputs="logits")
    version = modelport.register(model, "floats", sample=frame, registry=registry)
    loaded = load_model(registry, version.ref)
    assert loaded.signature is not None
    with pytest.raises(UnsupportedModel, match="neither all integers nor all strings"):
        to_onnx("pytorch", loaded.predictor, loaded.signature, loaded.prepare(frame))


def test_a_missing_exporter_library_names_its_extra(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from modelport.errors import MissingExtraError

    frame = sample()
    version = modelport.register(MODELS["regressor"](), "m", sample=frame, registry=registry)
    loaded = load_model(registry, version.ref)
    assert loaded.signature is not None
    inputs = loaded.prepare(frame)
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(MissingExtraError, match=r"modelport\[torch\]"):
        to_onnx("pytorch", loaded.predictor, loaded.signature, inputs)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError, match=r"modelport\[onnx\]"):
        to_onnx("pytorch", loaded.predictor, loaded.signature, inputs)
