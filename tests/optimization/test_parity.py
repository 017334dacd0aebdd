"""Parity: the strict default passes float32 conversions and refuses a changed model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelport.errors import InvalidArgument
from modelport.flavors.onnx import ONNX
from modelport.flavors.sklearn import SklearnPredictor
from modelport.optimization.conversion import to_onnx
from modelport.optimization.parity import Outputs, Tolerance, compare, outputs_of
from modelport.schema import infer_signature, validate
from tests.optimization.test_conversion import numeric_frame


def converted(model: Any, tmp_path: Any) -> tuple[Any, Any, Any]:
    """(original predictor, ONNX proto, model-ready inputs) for ``model`` on numeric_frame."""
    frame, labels = numeric_frame()
    model.fit(frame, labels)
    signature = infer_signature(frame)
    inputs = validate(signature, frame)
    predictor = SklearnPredictor(model)
    return predictor, to_onnx("sklearn", predictor, signature, inputs), inputs


def onnx_predictor(proto: Any, directory: Any) -> Any:
    directory.mkdir()
    return ONNX.load(directory, ONNX.save(proto, directory), trusted=False)


@pytest.mark.parametrize("kind", ["forest", "logistic", "gbm"])
def test_float32_conversions_pass_the_strict_default(kind: str, tmp_path: Any) -> None:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    model = {
        "forest": RandomForestClassifier(n_estimators=30, random_state=0),
        "logistic": LogisticRegression(),
        "gbm": GradientBoostingClassifier(n_estimators=50, random_state=0),
    }[kind]
    predictor, proto, inputs = converted(model, tmp_path)
    report = compare(
        outputs_of(predictor, inputs),
        outputs_of(onnx_predictor(proto, tmp_path / "onnx"), inputs),
        Tolerance(),
    )
    assert report.passed, report.to_dict()
    assert report.label_changes == 0.0
    # float32 differs, and by far less than the default allows (the comment on Tolerance)
    assert report.max_abs_diff < 1e-5
    assert report.rows == len(inputs)


def test_a_perturbed_graph_is_refused_naming_its_rows(tmp_path: Any) -> None:
    from onnx import numpy_helper
    from sklearn.linear_model import LogisticRegression

    predictor, proto, inputs = converted(LogisticRegression(), tmp_path)
    for initializer in proto.graph.initializer:
        values = numpy_helper.to_array(initializer)
        if values.dtype == np.float32 and values.size > 1:
            initializer.CopyFrom(numpy_helper.from_array(values * 1.5, initializer.name))
    for node in proto.graph.node:  # LinearClassifier keeps its weights as attributes
        for attribute in node.attribute:
            if attribute.name == "coefficients":
                attribute.floats[:] = [v * 1.5 for v in attribute.floats]
    report = compare(
        outputs_of(predictor, inputs),
        outputs_of(onnx_predictor(proto, tmp_path / "onnx"), inputs),
        Tolerance(),
    )
    assert not report.passed
    assert report.max_abs_diff > 1e-3
    assert 0 < len(report.differing_rows) <= 20
    assert report.to_dict()["differing_rows"] == report.differing_rows


def test_label_changes_are_a_share_and_the_tolerance_can_allow_some() -> None:
    reference = Outputs(
        np.array(["a", "b", "a", "b"]), np.array([[1.0, 0], [0, 1], [1, 0], [0, 1]])
    )
    candidate = Outputs(
        np.array(["a", "b", "b", "b"]), np.array([[1.0, 0], [0, 1], [0, 1], [0, 1]])
    )
    strict = compare(reference, candidate, Tolerance())
    assert strict.label_changes == 0.25 and strict.differing_rows == [2] and not strict.passed
    assert compare(reference, candidate, Tolerance(1.0, 0.25)).passed


def test_regressors_are_compared_relative_to_their_scale() -> None:
    reference = Outputs(np.array([1_000_000.0, 2_000_000.0]))
    close = Outputs(np.array([1_000_050.0, 2_000_000.0]))
    far = Outputs(np.array([1_001_000.0, 2_000_000.0]))
    assert compare(reference, close, Tolerance()).passed  # 50 < 1e-4 * 2e6
    report = compare(reference, far, Tolerance())
    assert not report.passed and report.differing_rows == [0]
    assert report.max_abs_diff == 1000.0


def test_missing_probabilities_and_nan_are_differences() -> None:
    reference = Outputs(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert not compare(reference, Outputs(np.array([0, 1])), Tolerance()).passed
    values = Outputs(np.array([np.nan, 1.0]))
    assert compare(values, Outputs(np.array([np.nan, 1.0])), Tolerance()).passed
    assert not compare(values, Outputs(np.array([0.0, 1.0])), Tolerance()).passed


def test_invalid_tolerances_and_lengths_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        Tolerance(max_abs_diff=-1)
    with pytest.raises(InvalidArgument):
        Tolerance(max_label_changes=2)
    with pytest.raises(InvalidArgument):
        compare(Outputs(np.zeros(2)), Outputs(np.zeros(3)), Tolerance())
