"""optimize: candidates, the parity gate, the choice and registration of the chosen one."""

from __future__ import annotations

import warnings
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


def _forest(rows: int = 2000, noise: bool = False) -> tuple[Any, pd.DataFrame]:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    frame["c"] = rng.uniform(0, 5, rows)
    labels = (frame.a + 0.5 * frame.b > 0).astype(int).to_numpy()
    if noise:  # memorised noise: no small student can follow every row
        labels = rng.integers(0, 2, rows)
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=1 if noise else 5)
    return forest.set_params(random_state=0).fit(frame, labels), frame


def test_a_distilled_version_registers_loads_and_serves(registry: Registry) -> None:
    with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from modelport.serving import ServeConfig, create_app

    model, frame = _forest()
    modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", distill=0.95, register=True, **FAST)
    data = report.to_dict()
    assert data["version"] == "m:2" and data["candidate"] in ("distilled", "distilled+onnx")
    distilled = next(c for c in report.candidates if c.name == "distilled")
    details = distilled.details
    assert details is not None and details["targets"] == "probabilities"
    assert distilled.agreement == details["fidelity"] >= 0.95 and distilled.passed
    assert details["rows"]["held_out"] == 500 and details["rows"]["synthetic"] > 0
    assert details["student_size"]["nodes"] < details["teacher_size"]["nodes"]
    # before and after: the student's file is smaller than the forest's
    compression = data["compression"]
    after = compression["after"]["distilled"]
    assert after["artifact_bytes"] < compression["before"]["artifact_bytes"]
    assert after["fidelity"] == details["fidelity"] and after["passed"]
    new = registry.get("m:2")
    assert new.tags["optimized_from"] == "m:1" and new.parent_version == 1
    assert new.metrics["agreement"] == report.chosen.agreement
    # the registered student serves like any version, with the original's inputs
    records = frame.head(20).to_dict("records")
    served = modelport.load("m:2", registry=registry).predict(records)
    chosen = report.chosen.model
    if report.chosen.flavor == "sklearn":
        np.testing.assert_array_equal(served, chosen.predict(frame.head(20)))
    app = create_app(ServeConfig(auth=False), settings=registry.settings)
    with TestClient(app) as client:
        reply = client.post("/v1/models/m:2:predict", json={"instances": records})
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"] == [int(v) for v in served]


def test_an_unreachable_distillation_target_registers_nothing(registry: Registry) -> None:
    model, frame = _forest(rows=800, noise=True)
    modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", distill=0.99, **FAST)
    # the conversion passes its gate, but a smaller model was asked for: it is not chosen
    assert report.chosen.name.startswith("distilled") and not report.chosen.passed
    assert "no compressed" in report.reason
    with pytest.raises(ParityError, match=r"below the target 0\.99") as info:
        optimize(registry, "m:1", distill=0.99, register=True, **FAST)
    assert "nothing was registered" in (info.value.hint or "")
    assert [v.version for v in registry.list_versions("m")] == [1]


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm"])
def test_boosted_models_prune_to_fewer_trees_and_smaller_versions(
    registry: Registry, flavor: str
) -> None:
    frame, labels = numeric_frame(rows=600)
    if flavor == "xgboost":
        xgb = pytest.importorskip("xgboost")
        model: Any = xgb.XGBClassifier(n_estimators=150, max_depth=4).fit(frame, labels)
    else:
        lgb = pytest.importorskip("lightgbm")
        named = np.where(labels == 1, "yes", "no")
        model = lgb.LGBMClassifier(n_estimators=150, verbose=-1).fit(frame, named)
    original = modelport.register(model, "m", sample=frame, registry=registry)
    report = optimize(registry, "m:1", runtime="native", prune=0.99, register=True, **FAST)
    assert report.version == "m:2" and report.chosen.name == "pruned"
    details = report.chosen.details
    assert details is not None and details["kept"] < details["total"] == 150
    new = registry.get("m:2")
    assert new.flavor == flavor and new.artifact_size < original.artifact_size
    loaded = modelport.load("m:2", registry=registry)
    predictor: Any = loaded.predictor
    trees = (
        len(predictor.model.get_booster().get_dump())
        if flavor == "xgboost"
        else predictor.booster.num_trees()
    )
    assert trees == details["kept"]
    records = frame.to_dict("records")
    before = modelport.load("m:1", registry=registry).predict(records)
    after = loaded.predict(records)
    assert float(np.mean(before == after)) == pytest.approx(report.chosen.agreement)
    assert report.chosen.agreement is not None and report.chosen.agreement >= 0.99
