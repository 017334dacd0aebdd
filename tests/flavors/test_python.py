from __future__ import annotations

import json

import numpy as np
import pytest

from modelport.errors import ArtifactError, FlavorError, UntrustedArtifactError
from modelport.flavors.conformance import check_flavor
from modelport.flavors.python import PYTHON, import_reference

from . import _functions


def test_importable_function_is_saved_by_reference(xy, tmp_path):
    x, _ = xy
    predictor = check_flavor(PYTHON, _functions.row_sum, x, tmp_path)
    assert predictor.task == "other"
    assert predictor.classes is None
    (saved,) = (tmp_path / "python-artifact").iterdir()
    assert saved.name == "function.json"
    assert json.loads(saved.read_text())["reference"] == f"{_functions.__name__}:row_sum"


def test_reference_loads_without_trust(xy, tmp_path):
    x, _ = xy
    options = PYTHON.save(_functions.row_sum, tmp_path)
    assert options["serialization"] == "reference"
    predictor = PYTHON.load(tmp_path, options, trusted=False)
    np.testing.assert_array_equal(predictor.predict(x), x.sum(axis=1))


def test_callable_object_describing_a_classifier(xy, tmp_path):
    x, _ = xy
    # an instance has no qualified name of its own: cloudpickled, so it needs trust
    predictor = check_flavor(PYTHON, _functions.SIGN, x, tmp_path, trusted=True)
    assert predictor.task == "classification"
    assert predictor.classes == ["neg", "pos"]


def test_lambda_needs_cloudpickle_and_trust(xy, tmp_path):
    x, _ = xy
    offset = 3.0
    func = lambda batch: np.asarray(batch)[:, 0] + offset  # noqa: E731
    options = PYTHON.save(func, tmp_path)
    assert options["serialization"] == "cloudpickle"
    with pytest.raises(UntrustedArtifactError, match="trusted=True"):
        PYTHON.load(tmp_path, options, trusted=False)
    check_flavor(PYTHON, func, x, tmp_path / "check", trusted=True)


def test_reference_requested_for_a_lambda_is_refused(tmp_path):
    with pytest.raises(FlavorError, match="cannot be imported back"):
        PYTHON.save(lambda batch: batch, tmp_path, serialization="reference")


def test_import_reference_rules():
    def local(batch):
        return batch

    assert import_reference(_functions.row_sum) == f"{_functions.__name__}:row_sum"
    assert import_reference(local) is None  # <locals>
    assert import_reference(_functions.SIGN) is None  # an instance has no qualname
    assert import_reference(_functions.SIGN.predict_proba) is None  # bound method


def test_reference_that_no_longer_imports(tmp_path):
    options = PYTHON.save(_functions.row_sum, tmp_path)
    (tmp_path / options["file"]).write_text(json.dumps({"reference": "no_such_module:f"}))
    with pytest.raises(ArtifactError, match="no_such_module"):
        PYTHON.load(tmp_path, options, trusted=False)


def test_classes_are_not_callable_models():
    assert not PYTHON.handles(_functions.SignClassifier)
    assert not PYTHON.handles(42)
