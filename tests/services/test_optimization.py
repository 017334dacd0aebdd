"""optimize: candidates, the parity gate, the choice and registration of the chosen one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelport
from modelport.errors import OptimizationError, ParityError, UnsupportedModel
from modelport.optimization.parity import Tolerance
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.services.optimization import optimize
from tests.optimization.test_conversion import mixed_frame, mixed_pipeline, numeric_frame

FAST = {"repeats": 1}


def fitted(kind: str) -> tuple[Any, pd.DataFrame]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    if kind == "pipeline":
        frame, labels = mixed_frame()
        return mixed_pipeline().fit(frame, labels), frame
    frame, labels = numeric_frame()
    if kind == "lr":
        return LogisticRegression().fit(frame, labels), frame
    if kind == "mlp":  # its graph has no classifier node naming the classes
        from sklearn.neural_network import MLPClassifier

        mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0)
        return mlp.fit(frame, labels), frame
    if kind == "rf":
        return RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, labels), frame
    if kind == "xgboost":
        xgb = pytest.importorskip("xgboost")
        return xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(frame, labels), frame
    lgb = pytest.importorskip("lightgbm")
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1)
    return model.fit(frame, labels), frame


@pytest.mark.parametrize("kind", ["lr", "rf", "mlp", "pipeline", "xgboost", "lightgbm"])
def test_the_onnx_version_predicts_like_the_original(registry: Registry, kind: str) -> None:
    model, frame = fitted(kind)
    original = modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", runtime="onnx", register=True, **FAST)
    data = report.to_dict()
    assert data["version"] == "m:2" and data["source"] == "m:1"
    assert data["runtime"] == "onnx" and data["parity"]["passed"]
    assert set(data["speed"]) == {"native", "onnx"}
    assert set(data["speed"]["onnx"]["batches"]) == {"1", "64", "10000"}
    new = registry.get("m:2")
    assert new.flavor == "onnx" and new.parent_version == original.version
    assert new.tags["optimized_from"] == "m:1" and new.tags["runtime"] == "onnx"
    assert new.metrics["parity_label_changes"] == 0.0
    assert new.signature is not None and original.signature is not None
    assert new.signature["inputs"] == original.signature["inputs"]
    # the MLP's graph names no classes: they come from the "modelport.classes" metadata
    assert new.signature["outputs"]["classes"] == original.signature["outputs"]["classes"]
    records = frame.to_dict("records")
    expected = modelport.load("m:1", registry=registry).predict(records)
    got = modelport.load("m:2", registry=registry).predict(records)
    assert [str(v) for v in got] == [str(v) for v in expected]
    if kind == "pipeline":  # OneHotEncoder(handle_unknown="ignore") in the graph too
        unseen = [{**records[0], "home": "houseboat"}]
        expected = modelport.load("m:1", registry=registry).predict(unseen)
        assert list(modelport.load("m:2", registry=registry).predict(unseen)) == list(expected)


def test_a_failing_gate_raises_and_registers_nothing(registry: Registry) -> None:
    model, frame = fitted("lr")
    modelport.register(model, "m", sample=frame, registry=registry)
    # float32 arithmetic differs by more than nothing: a zero tolerance must refuse it
    exact = Tolerance(max_abs_diff=0.0, max_label_changes=0.0)
    report = optimize(registry, "m:1", runtime="onnx", tolerance=exact, **FAST)
    assert not report.chosen.passed and report.version is None
    with pytest.raises(ParityError, match="first differing rows") as info:
        optimize(registry, "m:1", runtime="onnx", tolerance=exact, register=True, **FAST)
    assert "nothing was registered" in (info.value.hint or "")
    assert [v.version for v in registry.list_versions("m")] == [1]


def test_when_the_original_wins_nothing_is_registered(registry: Registry) -> None:
    model, frame = fitted("lr")
    modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", runtime="native", register=True, **FAST)
    assert report.version is None and report.chosen.name == "native"
    assert "nothing to register" in report.reason
    assert [v.version for v in registry.list_versions("m")] == [1]


def test_auto_keeps_a_candidate_that_passed(registry: Registry) -> None:
    model, frame = fitted("rf")
    modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", traffic="online", **FAST)
    assert report.chosen.passed and report.chosen.name in ("native", "onnx")
    assert {c["name"] for c in report.to_dict()["candidates"]} == {"native", "onnx"}


def test_a_python_model_cannot_be_converted(registry: Registry) -> None:
    frame, _ = numeric_frame(rows=60)

    def rule(batch: pd.DataFrame) -> np.ndarray:
        return (batch["x1"] > 0).to_numpy().astype(int)

    modelport.register(rule, "rule", sample=frame, registry=registry)
    with pytest.raises(UnsupportedModel, match="python"):
        optimize(registry, "rule:1", runtime="onnx", trusted=True, **FAST)
    # auto says why there is no ONNX candidate, and keeps the original
    report = optimize(registry, "rule:1", trusted=True, register=True, **FAST)
    assert report.version is None and report.skipped and "python" in report.skipped[0]


def test_no_sample_asks_for_one(registry: Registry) -> None:
    model, _ = fitted("lr")
    modelport.register(model, "m", registry=registry)
    with pytest.raises(OptimizationError, match="to check") as info:
        optimize(registry, "m:1", **FAST)
    assert "--sample" in (info.value.hint or "")


def test_a_given_sample_replaces_the_stored_one(registry: Registry) -> None:
    model, frame = fitted("lr")
    register_model(registry, model, "m", sample=frame, sample_rows=0)
    report = optimize(registry, "m:1", runtime="onnx", sample=frame.head(50), **FAST)
    assert report.chosen.parity is not None and report.chosen.parity.rows == 50


def test_quantized_candidate_when_the_module_exists(registry: Registry) -> None:
    pytest.importorskip("modelport.optimization.quantization")
    model, frame = fitted("lr")
    modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", quantize="fp16", tolerance=Tolerance(1e-2, 0.05), **FAST)
    assert any(c.name == "onnx+fp16" for c in report.candidates) or report.skipped


def test_pruned_candidates_report_their_agreement(registry: Registry) -> None:
    pytest.importorskip("modelport.optimization.pruning")
    model, frame = fitted("rf")
    modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", prune=0.95, **FAST)
    pruned = next(c for c in report.candidates if c.name == "pruned")
    assert pruned.target == 0.95 and pruned.agreement is not None
    assert pruned.passed == (pruned.agreement >= 0.95)
