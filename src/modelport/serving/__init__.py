"""Online serving: KServe V2 and V1 protocols over one pool of registry models.

>>> from modelport.serving import ServeConfig, create_app, run
>>> run(ServeConfig(refs=("credit-risk@production",), port=8080))  # doctest: +SKIP

Names are imported on first use (PEP 562): ``python -m modelport.serving`` reads its
options and checks the configuration before FastAPI and uvicorn are loaded, so a
mistake is reported at once, and the entry point needs only what it uses.
"""

import importlib as _importlib
import typing as _typing

_EXPORTS = {
    "BatchConfig": "modelport.runtime.config",
    "ServeConfig": "modelport.runtime.config",
    "create_app": "modelport.serving.app",
    "run": "modelport.serving.server",
}

__all__ = ["BatchConfig", "ServeConfig", "create_app", "run"]


def __getattr__(name: str) -> _typing.Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'modelport.serving' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if _typing.TYPE_CHECKING:
    from modelport.runtime.config import BatchConfig, ServeConfig
    from modelport.serving.app import create_app
    from modelport.serving.server import run
