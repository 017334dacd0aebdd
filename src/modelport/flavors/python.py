"""Plain Python callables ``f(batch) -> array-like``.

An importable function is saved as a reference (``module:qualname``) in JSON:
nothing is pickled, and loading imports it again, so the serving environment
must have the same code installed. Anything else (lambdas, closures, callable
objects) is saved with cloudpickle and then loads only when trusted.

The callable may describe itself: ``classes`` and ``predict_proba`` attributes
make it a classifier, and a ``task`` attribute names its task outright.

An MLflow pyfunc model (:class:`MlflowPyfunc`) is the one callable stored as a folder:
its MLflow model folder is copied whole and loaded again with
``mlflow.pyfunc.load_model``, which runs the model's own Python code (a cloudpickled
``python_model``, a loader module), so it loads only when trusted, like a pickle.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, get_args

import numpy as np

from modelport.errors import ArtifactError, ArtifactMissing, FlavorError
from modelport.flavors._common import (
    artifact_file,
    import_optional,
    plain_list,
    predicting,
    require_trust,
    translate,
    unknown_serialization,
)
from modelport.flavors.base import Predictor, Task

_FILES = {"reference": "function.json", "cloudpickle": "function.pkl", "mlflow": "mlflow_model"}


def import_cloudpickle() -> ModuleType:
    """cloudpickle, which scikit-learn's joblib already installs; say so if it is missing."""
    try:
        return importlib.import_module("cloudpickle")
    except ImportError as exc:
        raise FlavorError(
            "cloudpickle is needed for callables that cannot be imported by name",
            hint="pip install cloudpickle, or make the function importable",
        ) from exc


class PythonPredictor:
    """Calls ``func(batch)``; optional ``predict_proba``/``classes``/``task`` attributes."""

    def __init__(self, func: Any) -> None:
        self.func = func
        classes = getattr(func, "classes", None)
        self.classes: list[Any] | None = None if classes is None else plain_list(classes)
        task: Any = getattr(func, "task", None)
        self.task: Task
        if task in get_args(Task):
            self.task = task
        elif self.classes is not None or hasattr(func, "predict_proba"):
            self.task = "classification"
        else:
            self.task = "other"

    def predict(self, batch: Any) -> np.ndarray:
        with predicting("python"):
            return np.asarray(self.func(batch))

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if not hasattr(self.func, "predict_proba"):
            return None
        with predicting("python"):
            return np.asarray(self.func.predict_proba(batch))


def import_mlflow(module: str = "mlflow") -> ModuleType:
    """An MLflow module, or MissingExtraError naming the ``mlflow`` extra.

    Importing ``mlflow.pyfunc`` infers schemas for MLflow's own agent types and warns
    that an ``Any`` hint among them is not validated: advice to MLflow's developers, not
    to our users, so that one warning is silenced (it would print on every CLI command).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Any type hint is inferred as AnyType")
        return import_optional(module, "mlflow")


class MlflowPyfunc:
    """An MLflow model folder called through its ``python_function`` flavor.

    ``load`` runs ``mlflow.pyfunc.load_model`` (the model's own code); calling the object
    loads it first if need be. A one-column frame or an ``(n, 1)`` array from the model
    becomes one value per row, which is what the other flavors return.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._model: Any = None

    def load(self) -> Any:
        if self._model is None:
            pyfunc = import_mlflow("mlflow.pyfunc")
            with translate(ArtifactError, f"MLflow could not load the pyfunc model {self.folder}"):
                self._model = pyfunc.load_model(str(self.folder))
        return self._model

    def __call__(self, batch: Any) -> Any:
        result = self.load().predict(batch)
        if hasattr(result, "columns") and len(result.columns) == 1:  # a DataFrame
            return result.iloc[:, 0].to_numpy()
        values = np.asarray(result)
        return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


class PythonFlavor:
    """Any callable that is not a class; the fallback after every other flavor."""

    name: ClassVar[str] = "python"
    extra: ClassVar[str | None] = None

    def handles(self, obj: Any) -> bool:
        return callable(obj) and not isinstance(obj, type)

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        if not self.handles(obj):
            raise FlavorError(f"the python flavor saves callables, not {type(obj).__name__}")
        if isinstance(obj, MlflowPyfunc):
            return _save_pyfunc(obj, Path(directory))
        if serialization not in (None, "reference", "cloudpickle"):
            raise unknown_serialization(self.name, str(serialization), ["reference", "cloudpickle"])
        reference = import_reference(obj)
        if serialization == "reference" and reference is None:
            raise FlavorError(
                f"{obj!r} cannot be imported back by name",
                hint="define it at module level in an importable module, "
                "or use serialization='cloudpickle'",
            )
        if serialization != "cloudpickle" and reference is not None:
            path = Path(directory) / _FILES["reference"]
            path.write_text(json.dumps({"reference": reference}))
            return {"serialization": "reference", "file": path.name, "reference": reference}
        cloudpickle = import_cloudpickle()
        path = Path(directory) / _FILES["cloudpickle"]
        with translate(FlavorError, f"cannot cloudpickle {obj!r}"):
            path.write_bytes(cloudpickle.dumps(obj))
        return {
            "serialization": "cloudpickle",
            "file": path.name,
            "python_version": "{}.{}".format(*sys.version_info[:2]),
            "cloudpickle_version": cloudpickle.__version__,
        }

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        serialization = options.get("serialization")
        if serialization not in _FILES:
            raise ArtifactError(f"unknown python serialization {serialization!r} in load options")
        if serialization == "mlflow":
            return _load_pyfunc(Path(directory), options, trusted)
        path = artifact_file(directory, options, _FILES[serialization])
        if serialization == "reference":
            with translate(ArtifactError, f"cannot read {path.name}"):
                reference = json.loads(path.read_text())["reference"]
            return PythonPredictor(resolve_reference(reference))
        require_trust(trusted, "cloudpickle", path)
        cloudpickle = import_cloudpickle()
        with translate(ArtifactError, f"cannot unpickle {path.name}"):
            func = cloudpickle.loads(path.read_bytes())
        return PythonPredictor(func)


def _save_pyfunc(model: MlflowPyfunc, directory: Path) -> dict[str, Any]:
    target = directory / _FILES["mlflow"]
    with translate(FlavorError, f"cannot copy the MLflow model folder {model.folder}"):
        shutil.copytree(model.folder, target)
    return {"serialization": "mlflow", "file": target.name}


def _load_pyfunc(directory: Path, options: dict[str, Any], trusted: bool) -> Predictor:
    name = str(options.get("file", _FILES["mlflow"]))
    folder = directory / name
    if Path(name).name != name:
        raise ArtifactError(f"invalid artifact folder name {name!r} in the load options")
    if not (folder / "MLmodel").is_file():
        raise ArtifactMissing(f"the MLflow model folder {folder} has no MLmodel file")
    require_trust(trusted, "MLflow pyfunc model (its Python code runs on load)", folder)
    model = MlflowPyfunc(folder)
    model.load()  # the heavy work, and its failure, belong to load, not the first request
    return PythonPredictor(model)


def import_reference(obj: Any) -> str | None:
    """``module:qualname`` if importing that name gives back ``obj`` itself, else None."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if module == "__main__" or "<" in qualname:  # <locals>, <lambda>
        return None
    reference = f"{module}:{qualname}"
    try:
        found = resolve_reference(reference)
    except ArtifactError:
        return None
    return reference if found is obj else None


def resolve_reference(reference: str) -> Any:
    """Import ``module:qualname``; ArtifactError naming the module when that fails."""
    module_name, _, qualname = reference.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as exc:  # importing runs module code: anything can fail
        raise ArtifactError(
            f"cannot import {reference}",
            hint=f"install the code that defines it (module {module_name!r}) where models load",
        ) from exc
    return found


PYTHON = PythonFlavor()
