"""XGBoost models in the library's own format (UBJSON by default, or JSON), never pickle.

The scikit-learn wrappers store their extra attributes (number of classes,
feature names and types) inside the model file, so loading is: build the
recorded wrapper class, ``load_model``. Predictions are then the wrapper's
own, identical to the original object's.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from modelport.errors import ArtifactError, FlavorError
from modelport.flavors._common import (
    artifact_file,
    exact_class,
    import_optional,
    plain_list,
    predicting,
    translate,
    unknown_serialization,
    wrapper_class,
)
from modelport.flavors.base import Predictor, Task

_WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "Booster")
_FORMATS = ("ubj", "json")
_REGRESSION_OBJECTIVES = ("reg:", "count:", "survival:")


def import_xgboost() -> ModuleType:
    """The xgboost module, or MissingExtraError naming the ``xgboost`` extra."""
    return import_optional("xgboost", "xgboost")


class XGBoostPredictor:
    """Wraps an XGBoost sklearn-API model or a raw Booster."""

    def __init__(self, model: Any, wrapper: str) -> None:
        self.model = model
        self.wrapper = wrapper
        self.task: Task
        self.classes: list[Any] | None = None
        if wrapper == "Booster":
            objective = json.loads(model.save_config())["learner"]["objective"]["name"]
            self.task = "regression" if objective.startswith(_REGRESSION_OBJECTIVES) else "other"
        elif hasattr(model, "predict_proba"):
            self.task = "classification"
            self.classes = plain_list(model.classes_)
        else:
            self.task = "regression"

    def predict(self, batch: Any) -> np.ndarray:
        with predicting("xgboost"):
            if self.wrapper == "Booster":
                xgb = import_xgboost()
                return np.asarray(self.model.predict(xgb.DMatrix(batch, enable_categorical=True)))
            return np.asarray(self.model.predict(batch))

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if self.task != "classification":
            return None
        with predicting("xgboost"):
            return np.asarray(self.model.predict_proba(batch))


class XGBoostFlavor:
    """XGBClassifier, XGBRegressor (and their random-forest variants) and xgboost.Booster."""

    name: ClassVar[str] = "xgboost"
    extra: ClassVar[str | None] = "xgboost"

    def handles(self, obj: Any) -> bool:
        return exact_class(obj, "xgboost", _WRAPPERS) is not None

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        xgb = import_xgboost()
        wrapper = wrapper_class(obj, "xgboost", _WRAPPERS)
        fmt = serialization or "ubj"
        if fmt not in _FORMATS:
            raise unknown_serialization(self.name, fmt, _FORMATS)
        path = Path(directory) / f"model.{fmt}"
        with translate(FlavorError, f"cannot save the {wrapper}"):
            obj.save_model(path)
        return {
            "wrapper": wrapper,
            "serialization": fmt,
            "file": path.name,
            "xgboost_version": xgb.__version__,
        }

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        xgb = import_xgboost()
        wrapper = options.get("wrapper")
        if wrapper not in _WRAPPERS:
            raise ArtifactError(f"unknown xgboost wrapper {wrapper!r} in the load options")
        path = artifact_file(directory, options, "model.ubj")
        with translate(ArtifactError, f"cannot load {path.name} as {wrapper}"):
            model = getattr(xgb, wrapper)()
            model.load_model(path)
        return XGBoostPredictor(model, wrapper)


XGBOOST = XGBoostFlavor()
