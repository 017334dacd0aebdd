"""modelport: the last mile for ML models.

Register, version and alias models; load them with input validation; serve,
score in batch and monitor them. The public API is what ``__all__`` lists.

Names are imported on first use (PEP 562), so ``import modelport`` and its light
subpackages stay cheap: a server or a CLI command pays only for what it touches.
"""

import importlib as _importlib
import typing as _typing

from modelport import errors

__version__ = "0.1.0"

_EXPORTS = {
    "LoadedModel": "modelport.loaded",
    "ModelVersion": "modelport.registry",
    "Reference": "modelport.reference",
    "Registry": "modelport.registry",
    "Settings": "modelport.settings",
    "deploy": "modelport.api",
    "drift": "modelport.api",
    "list_models": "modelport.api",
    "load": "modelport.api",
    "register": "modelport.api",
    "search": "modelport.api",
    "set_alias": "modelport.api",
}

__all__ = [
    "LoadedModel",
    "ModelVersion",
    "Reference",
    "Registry",
    "Settings",
    "__version__",
    "deploy",
    "drift",
    "errors",
    "list_models",
    "load",
    "parse_reference",
    "register",
    "search",
    "set_alias",
]


def __getattr__(name: str) -> _typing.Any:
    if name == "parse_reference":
        from modelport.reference import parse

        value: _typing.Any = parse
    elif name in _EXPORTS:
        value = getattr(_importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'modelport' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if _typing.TYPE_CHECKING:
    from modelport.api import deploy, drift, list_models, load, register, search, set_alias
    from modelport.loaded import LoadedModel
    from modelport.reference import Reference
    from modelport.reference import parse as parse_reference
    from modelport.registry import ModelVersion, Registry
    from modelport.settings import Settings
