"""FLAVORS, get_flavor and detect_flavor."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelport.errors import FlavorError
from modelport.flavors import FLAVORS, detect_flavor, get_flavor

from . import _functions


def test_order_and_names():
    names = ["onnx", "xgboost", "lightgbm", "pytorch", "sklearn", "python"]
    assert [f.name for f in FLAVORS] == names
    assert [f.extra for f in FLAVORS] == ["onnx", "xgboost", "lightgbm", "torch", None, None]
    for flavor in FLAVORS:
        assert get_flavor(flavor.name) is flavor


def test_unknown_name():
    with pytest.raises(FlavorError) as info:
        get_flavor("torch")
    assert "onnx, xgboost, lightgbm, pytorch, sklearn, python" in str(info.value)


def _objects(xy):
    x, y = xy
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    skl2onnx = pytest.importorskip("skl2onnx")
    torch = pytest.importorskip("torch")
    from modelport.flavors.pytorch import TorchModel

    linear = LinearRegression().fit(x, y)
    return {
        "sklearn": [linear, make_pipeline(StandardScaler(), LinearRegression())],
        "xgboost": [xgb.XGBRegressor(n_estimators=2).fit(x, y), xgb.Booster()],
        "lightgbm": [lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(x, y)],
        "onnx": [skl2onnx.to_onnx(linear, x[:1].astype(np.float32))],
        "pytorch": [torch.nn.Linear(4, 1), TorchModel(torch.nn.Linear(4, 1))],
        "python": [_functions.row_sum, _functions.SIGN, lambda b: b],
    }


def test_detect_each_kind(xy):
    for name, objects in _objects(xy).items():
        for obj in objects:
            assert detect_flavor(obj).name == name, type(obj)


@pytest.mark.parametrize("obj", [42, "model.pkl", {"weights": [1, 2]}, np.zeros(3), StandardScaler])
def test_unsupported_object(obj):
    with pytest.raises(FlavorError, match="supported: scikit-learn"):
        detect_flavor(obj)


def test_import_does_not_load_model_libraries():
    code = (
        "import sys, modelport.flavors; "
        "print(sorted(m for m in ('xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'skops', "
        "'sklearn', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
