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
#: objectives whose Booster is a classifier with probabilities (binary:hinge and
#: binary:logitraw give labels or margins only and stay "other")
_CLASSIFIER_OBJECTIVES = ("multi:softprob", "multi:softmax", "binary:logistic")


def import_xgboost() -> ModuleType:
    """The xgboost module, or MissingExtraError naming the ``xgboost`` extra."""
    return import_optional("xgboost", "xgboost")


def booster_classes(booster: Any) -> list[int] | None:
    """Class labels 0..k-1 for a Booster trained as a classifier, else None.

    A Booster does not know its labels, only how many classes its objective has.
    """
    objective, num_class = _objective(booster)
    if objective not in _CLASSIFIER_OBJECTIVES:
        return None
    return list(range(2 if objective == "binary:logistic" else num_class))


def _objective(booster: Any) -> tuple[str, int]:
    learner = json.loads(booster.save_config())["learner"]
    return learner["objective"]["name"], int(learner["learner_model_param"]["num_class"])


class XGBoostPredictor:
    """Wraps an XGBoost sklearn-API model or a raw Booster.

    A Booster given ``classes`` (recorded at save from its objective) is a classifier:
    labels are the classes at the argmax of its probabilities. Versions saved before
    that was recorded keep predicting the Booster's raw output.
    """

    def __init__(self, model: Any, wrapper: str, classes: list[Any] | None = None) -> None:
        self.model = model
        self.wrapper = wrapper
        self.task: Task
        self.classes: list[Any] | None = None
        self.objective = ""
        if wrapper == "Booster":
            self.objective, _ = _objective(model)
            if classes is not None and self.objective in _CLASSIFIER_OBJECTIVES:
                self.task = "classification"
                self.classes = list(classes)
            elif self.objective.startswith(_REGRESSION_OBJECTIVES):
                self.task = "regression"
            else:
                self.task = "other"
        elif hasattr(model, "predict_proba"):
            self.task = "classification"
            self.classes = plain_list(model.classes_)
        else:
            self.task = "regression"

    def predict(self, batch: Any) -> np.ndarray:
        if self.wrapper == "Booster" and self.classes is not None:
            proba = self._booster_proba(batch)
            return np.asarray(np.asarray(self.classes)[np.argmax(proba, axis=1)])
        with predicting("xgboost"):
            if self.wrapper == "Booster":
                return np.asarray(self.model.predict(self._matrix(batch)))
            return np.asarray(self.model.predict(batch))

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if self.task != "classification":
            return None
        if self.wrapper == "Booster":
            return self._booster_proba(batch)
        with predicting("xgboost"):
            return np.asarray(self.model.predict_proba(batch))

    def _matrix(self, batch: Any) -> Any:
        return import_xgboost().DMatrix(batch, enable_categorical=True)

    def _booster_proba(self, batch: Any) -> np.ndarray:
        with predicting("xgboost"):
            if self.objective == "multi:softmax":
                # softmax predicts labels only; its margins give the probabilities softprob would
                margin = np.asarray(self.model.predict(self._matrix(batch), output_margin=True))
                exp = np.exp(margin - margin.max(axis=1, keepdims=True))
                return exp / exp.sum(axis=1, keepdims=True)
            result = np.asarray(self.model.predict(self._matrix(batch)))
        if self.objective == "binary:logistic":
            return np.column_stack((1.0 - result, result))
        return result


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
            classes = booster_classes(obj) if wrapper == "Booster" else None
        options: dict[str, Any] = {
            "wrapper": wrapper,
            "serialization": fmt,
            "file": path.name,
            "xgboost_version": xgb.__version__,
        }
        if classes is not None:
            options["classes"] = classes
        return options

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        xgb = import_xgboost()
        wrapper = options.get("wrapper")
        if wrapper not in _WRAPPERS:
            raise ArtifactError(f"unknown xgboost wrapper {wrapper!r} in the load options")
        path = artifact_file(directory, options, "model.ubj")
        with translate(ArtifactError, f"cannot load {path.name} as {wrapper}"):
            model = getattr(xgb, wrapper)()
            model.load_model(path)
        return XGBoostPredictor(model, wrapper, options.get("classes"))


XGBOOST = XGBoostFlavor()
