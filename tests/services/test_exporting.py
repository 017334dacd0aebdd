"""export_edge: the bundle answers what the registered version answers, or nothing is written.

Labels are compared for identity (the same JSON value the server answers), probabilities
and regression outputs within the parity tolerance (``Tolerance()``: 1e-4 absolute for
probabilities, 1e-4 of the largest output for regressors): the graph computes in float32
where scikit-learn and LightGBM compute in float64.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import modelport
from modelport.errors import ConflictError, OptimizationError, ParityError, UnsupportedModel
from modelport.loaded import load_model
from modelport.optimization.conversion import to_onnx
from modelport.optimization.parity import Tolerance
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.services.checking import stored_sample
from modelport.services.exporting import export_edge
from tests.edge.bundles import jsonl, run_bundle
from tests.optimization.test_conversion import numeric_frame
from tests.services.test_optimization import fitted

LIMIT = Tolerance().max_abs_diff


@pytest.mark.parametrize("kind", ["lr", "rf", "pipeline", "lightgbm"])
def test_the_bundle_answers_like_the_version_on_its_stored_sample(
    registry: Registry, tmp_path: Path, kind: str
) -> None:
    model, frame = fitted(kind)
    modelport.register(model, "m", sample=frame, registry=registry)
    report = export_edge(registry, "m:1", tmp_path / "edge")
    assert report.converted and report.parity is not None and report.parity.passed
    assert report.source == "m:1" and report.parity.rows == len(frame)
    # the export ran the bundle's own predict.py on the sample too
    assert report.bundle_check is not None and report.bundle_check.passed
    assert report.bundle_check.rows == len(frame) and report.bundle_check.label_changes == 0.0
    loaded = load_model(registry, "m:1")
    sample = stored_sample(registry, loaded)
    assert sample is not None and len(sample) == len(frame)

    code, answers, _ = run_bundle(tmp_path / "edge", jsonl(sample))

    assert code == 0 and len(answers) == len(sample)
    records = sample.to_dict("records")
    expected = loaded.predict(records).tolist()
    assert [a["prediction"] for a in answers] == expected  # values and JSON types
    assert loaded.classes is not None
    classes = [str(c) for c in loaded.classes]
    assert all(list(a["probabilities"]) == classes for a in answers)
    got = np.array([[a["probabilities"][c] for c in classes] for a in answers])
    assert np.abs(got - loaded.predict_proba(records)).max() <= LIMIT


def test_a_regressor_answers_within_the_relative_tolerance(
    registry: Registry, tmp_path: Path
) -> None:
    from sklearn.ensemble import RandomForestRegressor

    frame, _ = numeric_frame()
    target = frame.x1 * 1000 + frame.x3
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(frame, target)
    modelport.register(model, "r", sample=frame, registry=registry)
    export_edge(registry, "r:1", tmp_path / "edge")
    code, answers, _ = run_bundle(tmp_path / "edge", jsonl(frame))
    expected = modelport.load("r:1", registry=registry).predict(frame.to_dict("records"))
    got = np.array([a["prediction"] for a in answers])
    assert code == 0 and "probabilities" not in answers[0]
    assert np.abs(got - expected).max() <= LIMIT * max(1.0, np.abs(expected).max())


def test_an_onnx_version_is_exported_as_it_is(registry: Registry, tmp_path: Path) -> None:
    model, frame = fitted("lr")
    original = modelport.register(model, "lr", sample=frame, registry=registry)
    loaded = load_model(registry, original.ref)
    assert loaded.signature is not None
    proto = to_onnx("sklearn", loaded.predictor, loaded.signature, loaded.prepare(frame))
    modelport.register(proto, "lr-onnx", sample=frame, registry=registry)

    report = export_edge(registry, "lr-onnx:1", tmp_path / "edge")

    assert not report.converted and report.parity is None and report.source_flavor == "onnx"
    assert (tmp_path / "edge" / "model.onnx").read_bytes() == proto.SerializeToString()
    code, answers, _ = run_bundle(tmp_path / "edge", jsonl(frame))
    served = modelport.load("lr-onnx:1", registry=registry)
    records = frame.to_dict("records")
    assert code == 0
    assert [a["prediction"] for a in answers] == served.predict(records).tolist()
    got = np.array([[a["probabilities"][c] for c in ("0", "1")] for a in answers])
    assert np.abs(got - served.predict_proba(records)).max() <= LIMIT


def test_a_non_empty_directory_is_kept_unless_forced(registry: Registry, tmp_path: Path) -> None:
    model, frame = fitted("lr")
    modelport.register(model, "m", sample=frame, registry=registry)
    out = tmp_path / "edge"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConflictError, match="not empty") as info:
        export_edge(registry, "m:1", out)
    assert "--force" in (info.value.hint or "")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]

    export_edge(registry, "m:1", out, force=True)

    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "manifest.json",
        "model.onnx",
        "predict.py",
        "signature.json",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".edge-")]  # no staging left


def test_a_file_in_the_way_is_refused(registry: Registry, tmp_path: Path) -> None:
    model, frame = fitted("lr")
    modelport.register(model, "m", sample=frame, registry=registry)
    (tmp_path / "edge").write_text("a file")
    with pytest.raises(ConflictError, match="not a directory"):
        export_edge(registry, "m:1", tmp_path / "edge", force=True)


def test_a_conversion_past_the_tolerance_writes_nothing(registry: Registry, tmp_path: Path) -> None:
    model, frame = fitted("lr")
    modelport.register(model, "m", sample=frame, registry=registry)
    exact = Tolerance(max_abs_diff=0.0, max_label_changes=0.0)  # float32 is never exact
    with pytest.raises(ParityError, match="disagrees") as info:
        export_edge(registry, "m:1", tmp_path / "edge", tolerance=exact)
    assert "nothing was written" in (info.value.hint or "")
    assert not (tmp_path / "edge").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]


def test_a_model_without_a_converter_is_refused_naming_it(
    registry: Registry, tmp_path: Path
) -> None:
    frame, _ = numeric_frame(rows=50)

    def rule(batch: object) -> np.ndarray:
        return np.zeros(len(batch))  # type: ignore[arg-type]

    modelport.register(rule, "rule", sample=frame, registry=registry)
    with pytest.raises(UnsupportedModel, match="python") as info:
        export_edge(registry, "rule:1", tmp_path / "edge", trusted=True)
    assert "scikit-learn" in (info.value.hint or "")
    assert not (tmp_path / "edge").exists()


def test_without_a_stored_sample_it_asks_for_one(registry: Registry, tmp_path: Path) -> None:
    model, frame = fitted("lr")
    register_model(registry, model, "m", sample=frame, sample_rows=0)
    with pytest.raises(OptimizationError, match="no stored sample") as info:
        export_edge(registry, "m:1", tmp_path / "edge")
    assert "--sample" in (info.value.hint or "")
    report = export_edge(registry, "m:1", tmp_path / "edge", sample=frame.head(50))
    assert report.parity is not None and report.parity.rows == 50


def test_without_a_signature_there_are_no_rules(registry: Registry, tmp_path: Path) -> None:
    model, _ = fitted("lr")
    modelport.register(model, "m", registry=registry)
    with pytest.raises(OptimizationError, match="no signature"):
        export_edge(registry, "m:1", tmp_path / "edge")


def test_the_report_is_what_scripts_read(registry: Registry, tmp_path: Path) -> None:
    model, frame = fitted("pipeline")
    modelport.register(model, "credit", sample=frame, registry=registry)
    data = export_edge(registry, "credit:1", tmp_path / "edge").to_dict()
    json.dumps(data)  # plain JSON
    assert data["source"] == "credit:1" and data["format"] == "edge"
    assert data["parity"]["passed"] and data["parity"]["label_changes"] == 0.0
    manifest = json.loads((tmp_path / "edge" / "manifest.json").read_text())
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == data["files"]
    assert data["command"].endswith("predict.py ROWS.jsonl")


def test_an_onnx_versions_bundle_answers_exactly_like_the_server(
    registry: Registry, tmp_path: Path
) -> None:
    model, frame = fitted("rf")
    original = modelport.register(model, "rf", sample=frame, registry=registry)
    loaded = load_model(registry, original.ref)
    assert loaded.signature is not None
    proto = to_onnx("sklearn", loaded.predictor, loaded.signature, loaded.prepare(frame))
    modelport.register(proto, "rf-onnx", sample=frame, registry=registry)
    exact = Tolerance(max_abs_diff=0.0, max_label_changes=0.0)

    report = export_edge(registry, "rf-onnx:1", tmp_path / "edge", tolerance=exact)

    assert report.bundle_check is not None and report.bundle_check.passed
    assert report.bundle_check.max_abs_diff == 0.0  # same graph, same session settings


def test_the_bundle_check_refuses_answers_unlike_the_versions(
    registry: Registry, tmp_path: Path
) -> None:
    from modelport.optimization.parity import Outputs
    from modelport.services.exporting import _bundle_parity

    model, frame = fitted("lr")
    modelport.register(model, "m", sample=frame, registry=registry)
    export_edge(registry, "m:1", tmp_path / "edge")
    loaded = load_model(registry, "m:1")
    assert loaded.signature is not None
    inputs = loaded.prepare(frame)
    predictions, proba = loaded.outputs(inputs, proba=True)
    assert proba is not None
    flipped = Outputs(1 - predictions, proba[:, ::-1])
    with pytest.raises(ParityError, match="disagrees with the version"):
        _bundle_parity(tmp_path / "edge", "m:1", inputs, loaded.signature, flipped, Tolerance())


def test_a_categorical_column_takes_unseen_values_like_the_version(
    registry: Registry, tmp_path: Path
) -> None:
    from tests.optimization.test_conversion import mixed_frame, mixed_pipeline

    frame, labels = mixed_frame()
    frame["home"] = frame["home"].astype("category")  # the server feeds new values as NaN
    modelport.register(mixed_pipeline().fit(frame, labels), "m", sample=frame, registry=registry)
    export_edge(registry, "m:1", tmp_path / "edge")
    unseen = [
        {"income": 50.0, "age": 30, "home": "houseboat"},
        {"income": 20.0, "age": 70, "home": "own"},
    ]
    code, answers, _ = run_bundle(tmp_path / "edge", [json.dumps(r) for r in unseen])
    version = modelport.load("m:1", registry=registry)
    got = np.array([[a["probabilities"][c] for c in ("bad", "good")] for a in answers])
    assert code == 0
    assert [a["prediction"] for a in answers] == version.predict(unseen).tolist()
    assert np.abs(got - version.predict_proba(unseen)).max() <= LIMIT


def test_an_onnx_graph_with_zipmap_and_one_input_answers_like_the_server(
    registry: Registry, tmp_path: Path
) -> None:
    """A graph made outside modelport: skl2onnx's defaults (ZipMap, one float tensor)."""
    from skl2onnx import to_onnx as skl_to_onnx
    from sklearn.linear_model import LogisticRegression

    frame, labels = numeric_frame()
    array = frame.to_numpy(np.float32)
    proto = skl_to_onnx(LogisticRegression().fit(array, labels), array[:1])
    assert any(node.op_type == "ZipMap" for node in proto.graph.node)
    modelport.register(proto, "zip", sample=array, registry=registry)

    report = export_edge(registry, "zip:1", tmp_path / "edge")

    assert report.bundle_check is not None and report.bundle_check.max_abs_diff == 0.0
    rows = [[float(v) for v in row] for row in array[:20]]
    code, answers, _ = run_bundle(tmp_path / "edge", [json.dumps(r) for r in rows])
    served = modelport.load("zip:1", registry=registry)
    assert code == 0
    assert [a["prediction"] for a in answers] == served.predict(rows).tolist()
    got = np.array([list(a["probabilities"].values()) for a in answers])
    assert np.array_equal(got, served.predict_proba(rows).astype(np.float64))
