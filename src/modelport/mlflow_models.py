"""MLflow models coming in: ``models:/NAME/VERSION``, ``models:/NAME@alias``, ``runs:/ID/PATH``
and local MLmodel folders, read as the model object ``register`` saves with a flavor.

A folder is read without MLflow: the MLmodel file is YAML, parsed here. When MLflow
stored a flavor modelport has (sklearn, xgboost, lightgbm, onnx), that flavor's own file
is read with :func:`~modelport.model_files.read_model_file` and its trust rules, so a
pickled scikit-learn model needs trust and is then stored with skops. Any other model
comes in through its ``python_function`` flavor, as a
:class:`~modelport.flavors.python.MlflowPyfunc` that needs MLflow (the ``mlflow``
extra) and trust, since loading it runs its code. Only URIs need MLflow to download.

MLflow's signature becomes the declared input schema, its saved input example the
sample, and the run and URI are recorded as ``mlflow.*`` tags (the lineage).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import yaml

from modelport.errors import (
    DataError,
    InvalidArgument,
    MissingExtraError,
    ModelFileError,
    ModelportError,
    UntrustedArtifactError,
)
from modelport.flavors.python import MlflowPyfunc, import_mlflow
from modelport.model_files import read_model_file
from modelport.schema.signature import FeatureSpec, Kind, Signature

URI_SCHEMES = ("models:/", "runs:/")
TRUST_HINT = "if you produced this model, pass --trust (or set MODELPORT_TRUST_PICKLES=1)"

#: MLflow column types -> modelport kind and the dtype inputs are coerced to
_COLUMN_TYPES: dict[str, tuple[Kind, str]] = {
    "double": ("float", "float64"),
    "float": ("float", "float32"),
    "long": ("integer", "int64"),
    "integer": ("integer", "int32"),
    "boolean": ("boolean", "bool"),
    "string": ("string", "object"),
    "datetime": ("datetime", "datetime64[ns]"),
}
_TENSOR_KINDS: dict[str, Kind] = {"f": "float", "i": "integer", "u": "integer", "b": "boolean"}


@dataclass
class MlflowModel:
    """An MLflow model read for :func:`~modelport.registration.register_model`."""

    model: Any
    #: the MLflow flavor that was read: "sklearn", "xgboost", ... or "python_function"
    mlflow_flavor: str
    declared: Signature | None = None
    sample: Any | None = None
    tags: dict[str, str] = field(default_factory=dict)


def is_mlflow_source(source: str) -> bool:
    """True for ``models:/``/``runs:/`` URIs and for folders (which must hold an MLmodel)."""
    return source.startswith(URI_SCHEMES) or Path(source).is_dir()


@contextlib.contextmanager
def open_mlflow_model(
    source: str, *, trusted: bool = False, tracking_uri: str | None = None
) -> Iterator[MlflowModel]:
    """The model at ``source``; a downloaded copy lives as long as the ``with`` block.

    >>> with open_mlflow_model("models:/credit/3", tracking_uri=uri) as m:  # doctest: +SKIP
    ...     register_model(registry, m.model, "credit", sample=m.sample, declared=m.declared)
    """
    with tempfile.TemporaryDirectory(prefix="modelport-mlflow-") as tmp:
        if source.startswith(URI_SCHEMES):
            folder = _download(source, tracking_uri, Path(tmp))
            uri = source
        else:
            folder = Path(source)
            uri = folder.resolve().as_uri()
        yield read_mlmodel_folder(folder, trusted=trusted, uri=uri)


def read_mlmodel_folder(
    folder: Path, *, trusted: bool = False, uri: str | None = None
) -> MlflowModel:
    """Read a local MLflow model folder; ``uri`` is recorded as where it came from."""
    # a downloaded copy's temporary path would mean nothing to the reader of a message
    shown = uri if uri and uri.startswith(URI_SCHEMES) else str(folder)
    spec = _mlmodel(folder, shown)
    flavors: dict[str, Any] = spec["flavors"]
    native = next((name for name in _NATIVE if name in flavors), None)
    if native is not None:
        model = _read_native(folder, native, flavors[native], trusted, shown)
        used = native
    elif "python_function" in flavors:
        model = _read_pyfunc(folder, trusted, shown)
        used = "python_function"
    else:
        raise ModelFileError(
            f"the MLmodel of {shown} has no flavor modelport can load "
            f"(it has: {', '.join(map(str, flavors)) or 'none'})",
            hint="modelport reads MLflow's sklearn, xgboost, lightgbm and onnx flavors, and "
            "any model with a python_function flavor",
        )
    tags = {"mlflow.model_uri": uri or folder.resolve().as_uri(), "mlflow.flavor": used}
    if spec.get("run_id"):
        tags["mlflow.run_id"] = str(spec["run_id"])
    return MlflowModel(
        model,
        used,
        declared=_signature(spec.get("signature")),
        sample=_input_example(folder, spec.get("saved_input_example_info")),
        tags=tags,
    )


def _mlmodel(folder: Path, shown: str) -> dict[str, Any]:
    path = folder / "MLmodel"
    if not folder.is_dir():
        raise DataError(f"no such MLflow model folder: {folder}", hint="check the path")
    if not path.is_file():
        raise ModelFileError(
            f"{shown} has no MLmodel file, so it is not an MLflow model folder",
            hint="give the folder mlflow.<flavor>.save_model(model, path) wrote, or a "
            "models:/NAME/VERSION or runs:/RUN_ID/PATH URI",
        )
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelFileError(
            f"the MLmodel of {shown} is not valid YAML: {exc}",
            hint="the MLmodel file is damaged: save or download the model again",
        ) from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("flavors"), dict):
        raise ModelFileError(
            f"the MLmodel of {shown} has no 'flavors' mapping, so it is not an MLflow MLmodel file",
            hint="the MLmodel file is damaged: save or download the model again",
        )
    return spec


def _download(uri: str, tracking_uri: str | None, target: Path) -> Path:
    if not tracking_uri:
        raise InvalidArgument(
            f"{uri} names a model in an MLflow tracking server or store, but none is set",
            hint="set MLFLOW_TRACKING_URI (http://host:5000, sqlite:///mlflow.db, file:/path)",
        )
    mlflow = import_mlflow("mlflow.artifacts")
    try:
        local = mlflow.download_artifacts(
            artifact_uri=uri, dst_path=str(target), tracking_uri=tracking_uri
        )
    except Exception as exc:  # MlflowException, connection and storage errors alike
        # MLflow's own message may quote the request URL, credentials and all
        detail = str(getattr(exc, "message", None) or exc)
        shown = _redacted(tracking_uri)
        raise DataError(
            f"MLflow at {shown} could not give {uri}: {detail.replace(tracking_uri, shown)}",
            hint="check the model name and version (or alias), or the run id and artifact path, "
            "and MLFLOW_TRACKING_URI",
        ) from exc
    if not Path(local).is_dir():
        raise ModelFileError(
            f"{uri} is a file, not an MLflow model folder",
            hint="give the folder the model was logged as: runs:/RUN_ID/ARTIFACT_PATH "
            "(the name given to log_model), or models:/NAME/VERSION",
        )
    return Path(local)


def _redacted(uri: str) -> str:
    """The tracking URI without a user or password, for messages."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _flavor_file(folder: Path, flavor: str, name: Any, shown: str) -> Path:
    """The file the flavor's configuration names, inside the folder and present."""
    if not isinstance(name, str) or not name:
        raise ModelFileError(
            f"the {flavor} flavor in the MLmodel of {shown} names no model file",
            hint="the MLmodel file is damaged: save or download the model again",
        )
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ModelFileError(
            f"the {flavor} flavor in the MLmodel of {shown} names a file outside the folder: "
            f"{name!r}",
            hint="MLflow writes flavor files inside the model folder; this MLmodel was edited",
        )
    if not path.is_file():
        raise ModelFileError(
            f"the {flavor} flavor in the MLmodel of {shown} lists {name}, which the model "
            "folder does not have",
            hint="the MLflow model folder is incomplete: save or download it again",
        )
    return path


def _sklearn(conf: dict[str, Any]) -> tuple[Any, str]:
    fmt = str(conf.get("serialization_format", "cloudpickle"))
    return conf.get("pickled_model"), "skops" if fmt == "skops" else "pickle"


def _xgboost(conf: dict[str, Any]) -> tuple[Any, str]:
    return conf.get("data"), "xgboost"


def _lightgbm(conf: dict[str, Any]) -> tuple[Any, str]:
    # a Booster is saved as its text model; the scikit-learn wrappers as skops or a pickle
    fmt = conf.get("serialization_format")
    kinds = {"skops": "skops", "pickle": "pickle", "cloudpickle": "pickle"}
    return conf.get("data"), kinds.get(str(fmt), "lightgbm")


def _onnx(conf: dict[str, Any]) -> tuple[Any, str]:
    return conf.get("data"), "onnx"


#: MLflow flavors modelport reads natively, and where each keeps its file
_NATIVE = {"sklearn": _sklearn, "xgboost": _xgboost, "lightgbm": _lightgbm, "onnx": _onnx}


def _read_native(folder: Path, flavor: str, conf: Any, trusted: bool, shown: str) -> Any:
    name, kind = _NATIVE[flavor](conf if isinstance(conf, dict) else {})
    path = _flavor_file(folder, flavor, name, shown)
    try:
        return read_model_file(path, trusted=trusted, kind=kind)
    except UntrustedArtifactError as exc:
        how = "a pickle" if kind == "pickle" else "a skops file with types outside scikit-learn"
        raise UntrustedArtifactError(
            f"{shown}: MLflow's {flavor} flavor stored the model as {how} ({path.name}): "
            f"{exc.message}",
            hint=f"{TRUST_HINT}; modelport then stores it in its own format (skops, the "
            "booster's file)",
        ) from exc


def _read_pyfunc(folder: Path, trusted: bool, shown: str) -> MlflowPyfunc:
    if not trusted:
        raise UntrustedArtifactError(
            f"{shown} is an MLflow pyfunc model: loading it runs its Python code "
            "(a cloudpickled python_model or a loader module), like unpickling",
            hint=TRUST_HINT,
        )
    model = MlflowPyfunc(folder)
    try:
        model.load()  # fails here, before anything is registered
    except MissingExtraError:
        raise
    except ModelportError as exc:
        cause = exc.__cause__ or exc
        raise ModelFileError(
            f"MLflow could not load the pyfunc model {shown}: {type(cause).__name__}: {cause}",
            hint="loading ran the model's own code (its python_model, loader module or "
            "artifacts) and it failed: fix that code or its requirements, and log it again",
        ) from exc
    return model


def _signature(spec: Any) -> Signature | None:
    """MLflow's input schema as modelport's, or None when it has none modelport can enforce."""
    if not isinstance(spec, dict) or not spec.get("inputs"):
        return None
    try:
        inputs = json.loads(spec["inputs"]) if isinstance(spec["inputs"], str) else spec["inputs"]
    except ValueError as exc:
        raise ModelFileError(
            f"the signature in the MLmodel file is not JSON: {exc}",
            hint="the MLmodel file is damaged: save or download the model again",
        ) from exc
    if not isinstance(inputs, list) or not all(isinstance(c, dict) for c in inputs):
        return None
    if len(inputs) == 1 and inputs[0].get("type") == "tensor" and "name" not in inputs[0]:
        return _tensor_signature(inputs[0].get("tensor-spec") or {})
    features = []
    for column in inputs:
        known = _COLUMN_TYPES.get(str(column.get("type")))
        if known is None or not isinstance(column.get("name"), str):
            return None  # binary, arrays, objects: the sample's inferred schema is used instead
        kind, dtype = known
        features.append(FeatureSpec(column["name"], kind, dtype, not column.get("required", True)))
    return Signature(features)


def _tensor_signature(spec: dict[str, Any]) -> Signature | None:
    shape = spec.get("shape")
    if not isinstance(shape, list) or len(shape) != 2 or not isinstance(shape[1], int):
        return None
    try:
        dtype = np.dtype(str(spec.get("dtype")))
    except TypeError:
        return None
    kind = _TENSOR_KINDS.get(dtype.kind)
    if kind is None or shape[1] <= 0:
        return None
    features = [FeatureSpec(f"f{i}", kind, dtype.name) for i in range(shape[1])]
    return Signature(features, input_kind="ndarray")


def _input_example(folder: Path, info: Any) -> Any | None:
    """The saved input example as a frame or 2-D array, or None when there is none to use."""
    if not isinstance(info, dict) or not isinstance(info.get("artifact_path"), str):
        return None

    path = folder / str(info["artifact_path"])
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(
            f"the input example {path} is not JSON: {exc}",
            hint="give a sample with --sample, or log the model again",
        ) from exc
    kind = info.get("type")
    if kind == "dataframe":
        if isinstance(data, dict) and "columns" in data and "data" in data:  # orient="split"
            return pd.DataFrame(data["data"], columns=data["columns"])
        if isinstance(data, list) and all(isinstance(r, dict) for r in data):  # "records"
            return pd.DataFrame.from_records(data)
    if kind == "ndarray":
        values = np.asarray(data.get("inputs") if isinstance(data, dict) else data)
        if values.ndim == 2 and values.dtype.kind in "fiub":
            return values
    return None
