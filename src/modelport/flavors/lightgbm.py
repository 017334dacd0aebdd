"""LightGBM models saved as the booster's text model, never pickle.

Only the booster is stored; for the scikit-learn wrappers we record what the
wrapper adds on top (the class labels) and redo its last step exactly as
``LGBMClassifier`` does: a binary booster gives P(class 1), so the
probabilities are ``[1 - p, p]``; labels are the classes at the argmax.
The booster text carries the pandas category mappings, so DataFrames with
``category`` columns predict as they did before saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

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

_WRAPPERS = ("LGBMClassifier", "LGBMRegressor", "Booster")
_REGRESSION_OBJECTIVES = (
    "regression",
    "regression_l1",
    "huber",
    "fair",
    "poisson",
    "quantile",
    "mape",
    "gamma",
    "tweedie",
)


def import_lightgbm() -> ModuleType:
    """The lightgbm module, or MissingExtraError naming the ``lightgbm`` extra."""
    return import_optional("lightgbm", "lightgbm")


class LightGBMPredictor:
    """A booster plus the recorded classes: the wrapper's, or 0..k-1 for a classifier Booster.

    A Booster saved before its classes were recorded keeps predicting its raw output.
    """

    def __init__(self, booster: Any, wrapper: str, classes: list[Any] | None) -> None:
        self.booster = booster
        self.wrapper = wrapper
        self.classes = classes if wrapper != "LGBMRegressor" else None
        self.task: Task
        if self.classes is not None:
            self.task = "classification"
        elif wrapper == "LGBMRegressor" or _objective(booster) in _REGRESSION_OBJECTIVES:
            self.task = "regression"
        else:
            self.task = "other"

    def _raw(self, batch: Any) -> np.ndarray:
        # The wrapper runs sklearn's check_array on non-frames: numeric, float64 unless float.
        if not isinstance(batch, pd.DataFrame):
            batch = np.asarray(batch)
            if batch.dtype.kind != "f":
                batch = batch.astype(np.float64)
        with predicting("lightgbm"):
            return np.asarray(self.booster.predict(batch))

    def _proba(self, batch: Any, n_classes: int) -> np.ndarray:
        result = self._raw(batch)
        if n_classes > 2:
            return result
        return np.vstack((1.0 - result, result)).transpose()

    def predict(self, batch: Any) -> np.ndarray:
        if self.classes is None:
            return self._raw(batch)
        proba = self._proba(batch, len(self.classes))
        return np.asarray(np.asarray(self.classes)[np.argmax(proba, axis=1)])

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if self.classes is None:
            return None
        return self._proba(batch, len(self.classes))

    def for_arrays(self, columns: Sequence[str]) -> LightGBMPredictor | None:
        """This predictor itself, on arrays of ``columns``: a booster without pandas
        categories whose features are exactly ``columns`` reads an array as it reads the
        frame, without converting a frame on every call."""
        if getattr(self.booster, "pandas_categorical", None):
            return None
        with predicting("lightgbm"):
            names = list(self.booster.feature_name())
        return self if names == list(columns) else None

    def argmax_classes(self) -> np.ndarray | None:
        """The classes: ``predict`` above is the argmax of ``predict_proba`` by construction."""
        return None if self.classes is None else np.asarray(self.classes)


class LightGBMFlavor:
    """LGBMClassifier, LGBMRegressor and lightgbm.Booster (also as loaded: a LightGBMPredictor)."""

    name: ClassVar[str] = "lightgbm"
    extra: ClassVar[str | None] = "lightgbm"

    def handles(self, obj: Any) -> bool:
        return (
            isinstance(obj, LightGBMPredictor)
            or exact_class(obj, "lightgbm", _WRAPPERS) is not None
        )

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        lgb = import_lightgbm()
        if serialization not in (None, "text"):
            raise unknown_serialization(self.name, serialization, ["text"])
        if isinstance(obj, LightGBMPredictor):
            # a loaded (or pruned) model saves as it was loaded: its wrapper and classes
            # recorded, as from the wrapper itself
            return self._save_booster(obj.booster, obj.wrapper, obj.classes, directory)
        wrapper = wrapper_class(obj, "lightgbm", _WRAPPERS)
        if serialization not in (None, "text"):
            raise unknown_serialization(self.name, serialization, ["text"])
        if wrapper != "Booster" and callable(getattr(obj, "objective", None)):
            raise FlavorError(
                "a LightGBM model with a custom objective function cannot be saved as text",
                hint="its predictions depend on Python code; wrap it in a python-flavor function",
            )
        path = Path(directory) / "model.txt"
        options: dict[str, Any] = {
            "wrapper": wrapper,
            "serialization": "text",
            "file": path.name,
            "lightgbm_version": lgb.__version__,
        }
        with translate(FlavorError, f"cannot save the {wrapper}"):
            booster = obj if wrapper == "Booster" else obj.booster_
            booster.save_model(path)
            if wrapper == "LGBMClassifier":
                options["classes"] = plain_list(obj.classes_)
            elif wrapper == "Booster":
                classes = booster_classes(path)
                if classes is not None:
                    options["classes"] = classes
        return options

    def _save_booster(
        self, booster: Any, wrapper: str, classes: list[Any] | None, directory: Path
    ) -> dict[str, Any]:
        path = Path(directory) / "model.txt"
        with translate(FlavorError, f"cannot save the {wrapper}'s booster"):
            booster.save_model(path)
        options: dict[str, Any] = {
            "wrapper": wrapper,
            "serialization": "text",
            "file": path.name,
            "lightgbm_version": import_lightgbm().__version__,
        }
        if classes is not None:
            options["classes"] = list(classes)
        return options

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        lgb = import_lightgbm()
        wrapper = options.get("wrapper")
        if wrapper not in _WRAPPERS:
            raise ArtifactError(f"unknown lightgbm wrapper {wrapper!r} in the load options")
        classes = options.get("classes")
        if wrapper == "LGBMClassifier" and not classes:
            raise ArtifactError("the load options of an LGBMClassifier lack its classes")
        path = artifact_file(directory, options, "model.txt")
        with translate(ArtifactError, f"cannot load {path.name}"):
            booster = lgb.Booster(model_file=str(path))
        return LightGBMPredictor(booster, wrapper, classes)


def booster_classes(path: Path) -> list[int] | None:
    """Class labels 0..k-1 when the saved booster's objective is a classifier's, else None.

    Read from the ``objective=`` line LightGBM writes in the file's header, where the
    name is canonical (``multiclass``), unlike the booster's ``params`` that keep
    whatever alias (``softmax``) it was trained with.
    """
    with Path(path).open("rb") as fh:
        for raw in fh:
            if raw.startswith(b"Tree="):
                return None
            if raw.startswith(b"objective="):
                name, *settings = raw.decode("utf-8", "replace").strip()[10:].split()
                values = dict(item.partition(":")[::2] for item in settings)
                if name == "binary":
                    return [0, 1]
                count = values.get("num_class", "")
                if name in ("multiclass", "multiclassova") and count.isascii() and count.isdigit():
                    return list(range(int(count)))
                return None
    return None


def model_text_problem(text: bytes) -> str | None:
    """What makes ``text`` not a complete LightGBM model file, or None if it looks whole.

    LightGBM's own parser cannot be trusted with a damaged file: on a truncated one
    it may load a model with fewer trees without a word, or abort or crash the whole
    process from its parsing threads. So the structure its writer always produces is
    checked first: the ``tree`` header, the trees whose byte sizes ``tree_sizes``
    lists, ``end of trees``, and the parameters block when it has begun.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != b"tree":
        return "it does not start with LightGBM's 'tree' header"
    if b"end of trees" not in lines:
        return "it has no 'end of trees' line, so it is truncated or not a LightGBM model"
    if b"parameters:" in lines and b"end of parameters" not in lines:
        return "its parameters block has no end, so it is truncated"
    sizes_line = next((line for line in lines if line.startswith(b"tree_sizes=")), None)
    if sizes_line is not None:
        try:
            sizes = [int(s) for s in sizes_line.partition(b"=")[2].split()]
        except ValueError:
            return "its tree_sizes line is not a list of numbers"
        start, end = text.find(b"Tree=0\n"), text.find(b"\nend of trees")
        trees = sum(1 for line in lines if line.startswith(b"Tree="))
        if len(sizes) != trees or start < 0 or sum(sizes) != end + 1 - start:
            return "its trees do not match the sizes its header lists, so it is damaged"
    return None


def _objective(booster: Any) -> str:
    """The objective's name; a booster read from a file has its parameters in ``params``."""
    return str((getattr(booster, "params", None) or {}).get("objective", ""))


LIGHTGBM = LightGBMFlavor()
