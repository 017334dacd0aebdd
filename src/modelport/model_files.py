"""Reading a model object from a file handed to ``modelport register PATH``.

The file's suffix says what it is. Formats that can run code on load (pickle,
joblib; skops with types that are not scikit-learn's or NumPy's own) need
``trusted=True``: a registry is exactly where a stranger's file would be turned
into a running model.

This is the one place a model file is read for registration, so it is also where
a file that is not what its name says (empty, truncated, another format) becomes
one :class:`~modelport.errors.ModelFileError` naming the file, instead of whatever
the model library happens to raise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelport.errors import (
    DataError,
    InvalidArgument,
    ModelFileError,
    ModelportError,
    UntrustedArtifactError,
)
from modelport.flavors._common import import_optional as require

Reader = Callable[[Path, bool], Any]

#: what ``kind=`` may name, for a file whose name does not say what it is (MLflow writes
#: an XGBoost ``model.json`` or a LightGBM ``model.lgb`` as the flavor's own file name)
KINDS = ("skops", "onnx", "xgboost", "lightgbm", "torchscript", "torch-export", "pickle")


class _Malformed(Exception):
    """Our own finding that a file is not a whole model; its message is the reason."""


def read_model_file(path: str | Path, *, trusted: bool = False, kind: str | None = None) -> Any:
    """The model object in ``path``; ``kind`` (one of :data:`KINDS`) overrides the suffix."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such model file: {path}", hint="check the path")
    if not path.is_file():
        raise DataError(f"{path} is not a file", hint="give the path of a saved model file")
    kind, how, reader = _reader_for(path, kind)
    if path.stat().st_size == 0:
        raise ModelFileError(
            f"{path} is empty, so it cannot be {kind}",
            hint=f"save the model again ({how}) and register that file",
        )
    try:
        return reader(path, trusted)
    except ModelportError:
        raise
    except Exception as exc:
        # Broad on purpose: each library fails in its own way on a bad file (EOFError,
        # UnpicklingError, BadZipFile, DecodeError, XGBoostError, LightGBMError, ...).
        # EOFError in particular must not escape: Click turns it into a bare "Aborted.".
        detail = str(exc) if isinstance(exc, _Malformed) else f"{type(exc).__name__}: {exc}"
        raise ModelFileError(
            f"{path} could not be read as {kind}: {detail}",
            hint=f"the file is probably not {kind} (empty, truncated, or written by another "
            f"library); save the model again ({how}) and register that file",
        ) from exc


def _reader_for(path: Path, kind: str | None = None) -> tuple[str, str, Reader]:
    """What the file should be (for messages), how such a file is made, and its reader."""
    if kind is not None and kind not in KINDS:
        raise InvalidArgument(f"unknown model file kind {kind!r}", hint=f"one of: {KINDS}")
    suffix = path.suffix.lower()
    if kind == "skops" or (kind is None and suffix == ".skops"):
        return "a skops file", "skops.io.dump(model, path)", _read_skops
    if kind == "onnx" or (kind is None and suffix == ".onnx"):
        return "an ONNX model", "onnx.save(model, path)", _read_onnx
    if kind == "xgboost" or (
        kind is None and (suffix in (".ubj", ".xgb") or path.name.endswith(".xgboost.json"))
    ):
        return "an XGBoost model", "model.save_model(path)", _read_xgboost
    if kind == "lightgbm" or (kind is None and (suffix == ".txt" or path.name.endswith(".lgb"))):
        return "a LightGBM model", "booster.save_model(path)", _read_lightgbm
    if kind == "torchscript" or (kind is None and suffix == ".pt"):
        return (
            "a TorchScript archive",
            "torch.jit.save(torch.jit.script(model), path)",
            _read_torchscript,
        )
    if kind == "torch-export" or (kind is None and suffix == ".pt2"):
        return (
            "a torch.export program",
            "torch.export.save(torch.export.export(model, (x,)), path)",
            _read_torch_export,
        )
    if kind == "pickle" or (kind is None and suffix in (".pkl", ".pickle", ".joblib")):
        return "a pickle or joblib file", "joblib.dump(model, path)", _read_pickle
    raise DataError(
        f"cannot tell what kind of model {path} is",
        hint="use .skops or .joblib/.pkl (scikit-learn), .onnx, .ubj/.xgboost.json (XGBoost), "
        ".txt/.lgb (LightGBM), .pt (TorchScript), .pt2 (torch.export)",
    )


def _read_skops(path: Path, trusted: bool) -> Any:
    sio = require("skops.io", "sklearn")
    from modelport.flavors.sklearn import foreign_types

    unknown = sio.get_untrusted_types(file=path)
    foreign = foreign_types(unknown)
    if foreign and not trusted:
        raise UntrustedArtifactError(
            f"{path} contains types that are not scikit-learn's or NumPy's own, which skops "
            f"does not trust by default: {', '.join(foreign)}",
            hint="if you produced this file, pass --trust",
        )
    return sio.load(path, trusted=unknown)


def _read_onnx(path: Path, trusted: bool) -> Any:
    onnx = require("onnx", "onnx")
    model = onnx.load(str(path))
    # protobuf parses many non-models without complaint (as an empty ModelProto):
    # the checker is what tells a model from bytes that merely decode.
    onnx.checker.check_model(model)
    return model


def _read_xgboost(path: Path, trusted: bool) -> Any:
    """The scikit-learn wrapper the file was saved from, else the raw Booster.

    ``XGBClassifier.save_model`` records the wrapper's kind in the booster attribute
    ``scikit_learn``: read as a bare Booster the file would lose ``predict_proba`` and
    the wrapper's own label logic, so the recorded wrapper is rebuilt instead.
    """
    xgb = require("xgboost", "xgboost")
    problem = _xgboost_file_problem(path)
    if problem is not None:
        raise _Malformed(problem)
    booster = xgb.Booster(model_file=str(path))
    wrapper = _WRAPPERS.get(_estimator_type(booster.attr("scikit_learn")))
    if wrapper is None:
        return booster
    model = getattr(xgb, wrapper)()
    model.load_model(str(path))
    return model


def _xgboost_file_problem(path: Path) -> str | None:
    """Checked in Python first: XGBoost's own parser can crash the process on a damaged file."""
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            json.loads(data)
        except ValueError as exc:
            return f"it is not complete JSON ({exc}), so it is truncated or damaged"
        return None
    from modelport.flavors.ubjson import ubjson_problem

    return ubjson_problem(data)


#: ``_estimator_type`` in the ``scikit_learn`` attribute -> the wrapper to rebuild
_WRAPPERS = {"classifier": "XGBClassifier", "regressor": "XGBRegressor"}


def _estimator_type(recorded: str | None) -> str:
    if not recorded:
        return ""
    try:
        value = json.loads(recorded)
    except ValueError:
        return ""  # not ours to judge: the booster itself loaded, so it stays a Booster
    return str(value.get("_estimator_type", "")) if isinstance(value, dict) else ""


def _read_lightgbm(path: Path, trusted: bool) -> Any:
    lgb = require("lightgbm", "lightgbm")
    from modelport.flavors.lightgbm import model_text_problem

    problem = model_text_problem(path.read_bytes())
    if problem is not None:
        raise _Malformed(problem)
    return lgb.Booster(model_file=str(path))


def _read_torchscript(path: Path, trusted: bool) -> Any:
    """A TorchScript archive; a ``torch.save`` pickle of a module is refused as not one."""
    from modelport.flavors.pytorch import import_torch, torch_quiet

    with torch_quiet():
        return import_torch().jit.load(str(path), map_location="cpu")


def _read_torch_export(path: Path, trusted: bool) -> Any:
    from modelport.flavors.pytorch import import_torch, torch_quiet

    with torch_quiet():
        return import_torch().export.load(str(path))


def _read_pickle(path: Path, trusted: bool) -> Any:
    if not trusted:
        raise UntrustedArtifactError(
            f"{path} is a pickle: loading it runs any code it contains",
            hint="if you produced this file, pass --trust; prefer saving with skops",
        )
    import joblib

    return joblib.load(path)
