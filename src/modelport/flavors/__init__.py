"""Flavors: one module per kind of model, behind the contract in :mod:`.base`."""

from __future__ import annotations

from typing import Any

from modelport.errors import FlavorError
from modelport.flavors.base import Flavor, Predictor
from modelport.flavors.lightgbm import LIGHTGBM
from modelport.flavors.onnx import ONNX
from modelport.flavors.python import PYTHON
from modelport.flavors.pytorch import PYTORCH
from modelport.flavors.sklearn import SKLEARN
from modelport.flavors.xgboost import XGBOOST

__all__ = ["FLAVORS", "Flavor", "Predictor", "detect_flavor", "get_flavor"]

#: every built-in flavor, most specific first: XGBoost and LightGBM wrappers are also
#: scikit-learn estimators, and almost anything (a torch.nn.Module too) is a Python callable.
FLAVORS: tuple[Flavor, ...] = (ONNX, XGBOOST, LIGHTGBM, PYTORCH, SKLEARN, PYTHON)


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``, as recorded with a model version."""
    for flavor in FLAVORS:
        if flavor.name == name:
            return flavor
    raise FlavorError(
        f"unknown flavor {name!r}", hint=f"known flavors: {', '.join(f.name for f in FLAVORS)}"
    )


def detect_flavor(obj: Any) -> Flavor:
    """The first flavor that can save ``obj``; FlavorError saying what is supported."""
    for flavor in FLAVORS:
        if flavor.handles(obj):
            return flavor
    raise FlavorError(
        f"no flavor can save an object of type {type(obj).__module__}.{type(obj).__qualname__}",
        hint="supported: scikit-learn estimators and pipelines, XGBoost and LightGBM models, "
        "onnx.ModelProto, PyTorch modules (torch.nn.Module, TorchScript, torch.export "
        "programs), and Python callables f(batch) -> predictions",
    )
