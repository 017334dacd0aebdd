from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import modelport
from modelport.errors import FlavorError, MissingExtraError
from modelport.flavors.conformance import check_flavor
from modelport.flavors.onnx import ONNX, import_onnxruntime
from modelport.settings import Settings

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


def run(proto, feed):
    """The reference: onnxruntime on the original proto, without the flavor."""
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


@pytest.mark.parametrize("zipmap", [True, False])
def test_classifier_from_skl2onnx(zipmap, xy_multiclass, tmp_path):
    x, y = xy_multiclass
    model = LogisticRegression().fit(x, y)
    options = None if zipmap else {id(model): {"zipmap": False}}
    proto = skl2onnx.to_onnx(model, x[:1].astype(np.float32), options=options)
    labels, proba = run(proto, {"X": x.astype(np.float32)})
    if zipmap:
        proba = [[row[c] for c in model.classes_] for row in proba]
    predictor = check_flavor(
        ONNX, proto, x, tmp_path, expected_predict=labels, expected_proba=np.asarray(proba)
    )
    assert predictor.task == "classification"
    assert predictor.classes == ["high", "low", "mid"]
    # float32 inside the graph: close to, not identical with, scikit-learn
    np.testing.assert_allclose(predictor.predict_proba(x), model.predict_proba(x), atol=1e-5)


def test_binary_integer_classes(xy, tmp_path):
    x, y = xy
    proto = skl2onnx.to_onnx(LogisticRegression().fit(x, y), x[:1].astype(np.float32))
    labels, _ = run(proto, {"X": x.astype(np.float32)})
    predictor = check_flavor(ONNX, proto, x, tmp_path, expected_predict=labels)
    assert predictor.classes == [0, 1]


def test_regressor_is_flattened(xy_regression, tmp_path):
    x, y = xy_regression
    proto = skl2onnx.to_onnx(LinearRegression().fit(x, y), x[:1].astype(np.float32))
    (expected,) = run(proto, {"X": x.astype(np.float32)})
    predictor = check_flavor(ONNX, proto, x, tmp_path, expected_predict=expected[:, 0])
    assert predictor.task == "regression"
    assert predictor.classes is None
    assert predictor.predict_proba(x) is None


def test_several_inputs_fed_by_column_name(tmp_path):
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1])
    b = helper.make_tensor_value_info("b", TensorProto.DOUBLE, [None, 1])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["b"], ["b32"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["a", "b32"], ["y"]),
        ],
        "add",
        [a, b],
        [out],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    batch = pd.DataFrame({"b": [1.0, 2.0, 3.5], "a": [10, 20, 30]})
    expected = np.array([11.0, 22.0, 33.5], dtype=np.float32)
    predictor = check_flavor(ONNX, proto, batch, tmp_path, expected_predict=expected)
    with pytest.raises(FlavorError, match="needs the inputs b"):
        predictor.predict(batch[["a"]])


def test_invalid_proto_is_refused(tmp_path):
    with pytest.raises(FlavorError, match="not valid"):
        ONNX.save(onnx.ModelProto(), tmp_path)


def test_missing_library(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r"modelport\[onnx\]"):
        import_onnxruntime()
    with pytest.raises(MissingExtraError):
        ONNX.load(tmp_path, {"file": "model.onnx"}, trusted=False)


def test_closing_a_loaded_onnx_model_releases_its_session(tmp_path: Path) -> None:
    from modelport.loaded import load_model
    from modelport.registry import Registry

    settings = Settings(home=tmp_path / "home")
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    onnx_model = skl2onnx.to_onnx(LogisticRegression().fit(X, y), X[:1], options={"zipmap": False})
    modelport.register(onnx_model, "lr-onnx", sample=X, settings=settings)
    loaded = load_model(Registry(settings), "lr-onnx")
    assert loaded.predict(X[:3]).shape == (3,)
    loaded.close()
    loaded.close()  # idempotent
    assert loaded.predictor.session is None  # type: ignore[attr-defined]


# --- ONNXModel: execution providers, threads, optimisation level, warm-up -----------------


def _forest_proto(x: np.ndarray, y: np.ndarray):
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    return forest, skl2onnx.to_onnx(forest, x[:1].astype(np.float32), options={"zipmap": False})


def test_onnx_model_records_its_session_options(xy, tmp_path: Path) -> None:
    from modelport.flavors.onnx import ONNXModel

    x, y = xy
    forest, proto = _forest_proto(x, y)
    wrapped = ONNXModel(proto, intra_op_threads=2, graph_optimization_level="ORT_ENABLE_BASIC")
    assert ONNX.handles(wrapped)
    options = ONNX.save(wrapped, tmp_path)
    assert options["providers"] == ["CPUExecutionProvider"]
    assert options["intra_op_num_threads"] == 2
    assert options["graph_optimization_level"] == "ORT_ENABLE_BASIC"
    predictor = ONNX.load(tmp_path, options, trusted=False)
    np.testing.assert_array_equal(predictor.predict(x), forest.predict(x))
    session_options = predictor.session.get_session_options()  # type: ignore[attr-defined]
    assert session_options.intra_op_num_threads == 2
    assert session_options.inter_op_num_threads == 1
    assert session_options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert session_options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC


def test_versions_saved_before_the_session_options_load_as_before(xy, tmp_path: Path) -> None:
    x, y = xy
    forest, proto = _forest_proto(x, y)
    options = ONNX.save(proto, tmp_path)
    old = {k: options[k] for k in ("serialization", "file", "classes", "intra_op_num_threads")}
    predictor = ONNX.load(tmp_path, old, trusted=False)
    assert predictor.session.get_providers() == ["CPUExecutionProvider"]  # type: ignore[attr-defined]
    level = predictor.session.get_session_options().graph_optimization_level  # type: ignore[attr-defined]
    assert level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    np.testing.assert_array_equal(predictor.predict(x), forest.predict(x))


def test_a_missing_accelerator_names_the_package_that_has_it(xy, tmp_path: Path) -> None:
    from modelport.errors import ConfigurationError
    from modelport.flavors.onnx import ONNXModel

    x, y = xy
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    _, proto = _forest_proto(x, y)
    options = ONNX.save(ONNXModel(proto, providers=("CUDAExecutionProvider",)), tmp_path)
    with pytest.raises(ConfigurationError, match="CUDAExecutionProvider") as info:
        ONNX.load(tmp_path, options, trusted=False)
    assert "onnxruntime-gpu" in (info.value.hint or "")
    options["providers"] = ["OpenVINOExecutionProvider"]
    with pytest.raises(ConfigurationError) as info:
        ONNX.load(tmp_path, options, trusted=False)
    assert "onnxruntime-openvino" in (info.value.hint or "")


def test_a_missing_accelerator_falls_back_to_a_listed_cpu(xy, tmp_path: Path, caplog) -> None:
    from modelport.flavors.onnx import ONNXModel

    x, y = xy
    if "TensorrtExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has TensorRT")
    forest, proto = _forest_proto(x, y)
    wrapped = ONNXModel(proto, providers=("TensorrtExecutionProvider", "CPUExecutionProvider"))
    options = ONNX.save(wrapped, tmp_path)
    with caplog.at_level("WARNING", logger="modelport.flavors"):
        predictor = ONNX.load(tmp_path, options, trusted=False)
    assert "TensorrtExecutionProvider" in caplog.text
    assert predictor.session.get_providers() == ["CPUExecutionProvider"]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(predictor.predict(x), forest.predict(x))


@pytest.mark.parametrize(
    "kwargs",
    [{"providers": ()}, {"intra_op_threads": -1}, {"graph_optimization_level": "FAST"}],
)
def test_bad_session_options_are_refused(kwargs, xy) -> None:
    from modelport.errors import ConfigurationError
    from modelport.flavors.onnx import ONNXModel

    x, y = xy
    _, proto = _forest_proto(x, y)
    with pytest.raises(ConfigurationError):
        ONNXModel(proto, **kwargs)


def test_warm_up_feeds_every_input_type(tmp_path: Path) -> None:
    """A graph with a float and a string input runs once at load, on a synthetic row."""
    from onnx import TensorProto, helper

    from modelport.flavors.onnx import warm_up

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 3])
    s = helper.make_tensor_value_info("s", TensorProto.STRING, [None, 1])
    n = helper.make_tensor_value_info("n", TensorProto.INT64, [None])
    out = helper.make_tensor_value_info("y", TensorProto.INT64, [None])
    graph = helper.make_graph(
        [helper.make_node("Shape", ["s"], ["y"])],  # uses s; a and n are only fed
        "warm",
        [a, s, n],
        [out],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    runs: list[dict[str, np.ndarray]] = []

    class Recording:
        def get_inputs(self):
            return session.get_inputs()

        def run(self, names, feed):
            runs.append(feed)
            return session.run(names, feed)

    warm_up(Recording())
    (feed,) = runs
    assert feed["a"].shape == (1, 3) and feed["a"].dtype == np.float32
    assert feed["s"].shape == (1, 1)
    assert feed["n"].shape == (1,) and feed["n"].dtype == np.int64


def test_probabilities_after_labels_are_those_of_the_same_batch(xy, tmp_path: Path) -> None:
    """predict then predict_proba share one graph run only when the batch is the same."""
    x, y = xy
    forest, proto = _forest_proto(x, y)
    predictor = ONNX.load(tmp_path, ONNX.save(proto, tmp_path), trusted=False)
    first, second = x[:10], x[10:20]
    predictor.predict(first)
    np.testing.assert_allclose(
        predictor.predict_proba(second), forest.predict_proba(second), atol=1e-5
    )
    predictor.predict(first)
    np.testing.assert_allclose(
        predictor.predict_proba(first), forest.predict_proba(first), atol=1e-5
    )
    np.testing.assert_allclose(
        predictor.predict_proba(second), forest.predict_proba(second), atol=1e-5
    )


# --- class labels from the "modelport.classes" metadata -----------------------------------


def _mlp_graph(xy_multiclass):
    """An MLP converted by modelport: its graph has no node naming the classes."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from modelport.flavors.sklearn import SklearnPredictor
    from modelport.optimization.conversion import to_onnx
    from modelport.schema import infer_signature

    x, y = xy_multiclass
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=500, random_state=0)
    with warnings.catch_warnings():  # 80 rows: it need not converge to be a fixed model
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x, y)
    predictor = SklearnPredictor(mlp)
    proto = to_onnx("sklearn", predictor, infer_signature(x), x)
    return mlp, proto


def test_classes_are_read_from_the_modelport_metadata(xy_multiclass, tmp_path):
    from modelport.flavors.onnx import _graph_classes

    x, _ = xy_multiclass
    mlp, proto = _mlp_graph(xy_multiclass)
    without = onnx.ModelProto()
    without.CopyFrom(proto)
    del without.metadata_props[:]
    assert _graph_classes(without) is None  # what the graph alone says: nothing
    options = ONNX.save(proto, tmp_path)
    assert options["classes"] == ["high", "low", "mid"]
    predictor = ONNX.load(tmp_path, options, trusted=False)
    assert predictor.classes == ["high", "low", "mid"]
    assert list(predictor.predict(x)) == list(mlp.predict(x))


def test_versions_saved_without_classes_read_them_from_the_metadata_at_load(
    xy_multiclass, tmp_path
):
    _, proto = _mlp_graph(xy_multiclass)
    options = {**ONNX.save(proto, tmp_path), "classes": None}  # as saved before the fix
    assert ONNX.load(tmp_path, options, trusted=False).classes == ["high", "low", "mid"]


def test_metadata_classes_that_are_not_a_json_list_are_refused(xy, tmp_path):
    x, y = xy
    proto = skl2onnx.to_onnx(LogisticRegression().fit(x, y), x[:1].astype(np.float32))
    entry = proto.metadata_props.add()
    entry.key = "modelport.classes"
    entry.value = "0, 1"
    with pytest.raises(FlavorError, match="not JSON"):
        ONNX.save(proto, tmp_path)
