"""Reading a model object from a file handed to ``modelport register PATH``.

The file's suffix says what it is. Formats that can run code on load (pickle,
joblib; skops with unknown types) need ``trusted=True``: a registry is exactly
where a stranger's file would be turned into a running model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelport.errors import DataError, UntrustedArtifactError
from modelport.flavors._common import import_optional as require


def read_model_file(path: str | Path, *, trusted: bool = False) -> Any:
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such model file: {path}", hint="check the path")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        sio = require("skops.io", "sklearn")
        unknown = sio.get_untrusted_types(file=path)
        if unknown and not trusted:
            raise UntrustedArtifactError(
                f"{path} contains types skops does not trust by default: {', '.join(unknown)}",
                hint="if you produced this file, pass --trust",
            )
        return sio.load(path, trusted=unknown)
    if suffix == ".onnx":
        return require("onnx", "onnx").load(str(path))
    if suffix in (".ubj", ".xgb") or path.name.endswith(".xgboost.json"):
        return require("xgboost", "xgboost").Booster(model_file=str(path))
    if suffix == ".txt" or path.name.endswith(".lgb"):
        return require("lightgbm", "lightgbm").Booster(model_file=str(path))
    if suffix in (".pkl", ".pickle", ".joblib"):
        if not trusted:
            raise UntrustedArtifactError(
                f"{path} is a pickle: loading it runs any code it contains",
                hint="if you produced this file, pass --trust; prefer saving with skops",
            )
        import joblib

        return joblib.load(path)
    raise DataError(
        f"cannot tell what kind of model {path} is",
        hint="use .skops or .joblib/.pkl (scikit-learn), .onnx, .ubj/.xgboost.json (XGBoost), "
        ".txt/.lgb (LightGBM)",
    )
