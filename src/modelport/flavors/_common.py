"""Helpers shared by the flavor modules: lazy imports, trust, plain values, error translation."""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from modelport.errors import (
    ArtifactError,
    ArtifactMissing,
    FlavorError,
    MissingExtraError,
    ModelportError,
    PredictionError,
    UntrustedArtifactError,
)

TRUST_HINT = (
    "load it with trusted=True, or set MODELPORT_TRUST_PICKLES=1, "
    "but only for artifacts you produced yourself"
)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while a model library is imported and a model is built.

    What is created then lives as long as the process (modules, classes, the model), so
    the collections an import of scikit-learn sets off find nothing to free, and each
    full one walks every object loaded so far: together a good part of a second of a
    server's start. The collector's state is restored after, whatever it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_optional(module: str, extra: str) -> ModuleType:
    """Import a model library, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module.partition(".")[0], extra) from exc


def class_in_mro(obj: Any, module_prefix: str, names: Sequence[str] | None = None) -> bool:
    """True if a class of ``obj``'s MRO lives in ``module_prefix`` (and is one of ``names``).

    Looks only at class metadata, so it never imports the library.
    """
    for cls in type(obj).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if (module == module_prefix or module.startswith(module_prefix + ".")) and (
            names is None or cls.__name__ in names
        ):
            return True
    return False


def exact_class(obj: Any, module_prefix: str, names: Sequence[str]) -> str | None:
    """The class name of ``obj`` if it is exactly one of ``names`` from ``module_prefix``.

    Subclasses are refused on purpose: a subclass may override ``predict``, and a
    flavor that rebuilds the library's own class would silently drop that code.
    """
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    if module.startswith(module_prefix + ".") or module == module_prefix:
        return cls.__name__ if cls.__name__ in names else None
    return None


def wrapper_class(obj: Any, flavor: str, names: Sequence[str]) -> str:
    """The class name of ``obj`` among ``names`` of library ``flavor``, or FlavorError."""
    wrapper = exact_class(obj, flavor, names)
    if wrapper is None:
        raise FlavorError(
            f"the {flavor} flavor cannot save a {type(obj).__name__}",
            hint=f"supported: {', '.join(names)}",
        )
    return wrapper


def require_trust(trusted: bool, what: str, path: Path) -> None:
    """Refuse to unpickle unless the caller said the artifact is trusted."""
    if not trusted:
        raise UntrustedArtifactError(
            f"{path.name} is a {what} file; unpickling it can run arbitrary code", hint=TRUST_HINT
        )


def plain_list(values: Any) -> list[Any]:
    """Class labels as plain Python values (int, float, str, bool), JSON-able."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]


def artifact_file(directory: Path, options: dict[str, Any], default: str) -> Path:
    """The artifact file recorded in ``options``; ArtifactMissing if it is gone."""
    name = str(options.get("file", default))
    path = Path(directory) / name
    if Path(name).name != name:
        raise ArtifactError(f"invalid artifact file name {name!r} in the load options")
    if not path.is_file():
        raise ArtifactMissing(f"the artifact file {path} does not exist")
    return path


def unknown_serialization(flavor: str, given: str, allowed: Sequence[str]) -> FlavorError:
    return FlavorError(
        f"the {flavor} flavor cannot save with serialization={given!r}",
        hint=f"use one of: {', '.join(allowed)}",
    )


class translate:
    """Re-raise any library exception as ``error(message: detail)``, chained.

    Our own errors pass through untouched, so callers only ever see the modelport
    hierarchy. A class rather than ``@contextmanager`` so type checkers know it
    never swallows an exception.
    """

    def __init__(self, error: type[ModelportError], message: str) -> None:
        self.error = error
        self.message = message

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, ModelportError) or not isinstance(exc, Exception):
            return None
        raise self.error(f"{self.message}: {type(exc).__name__}: {exc}") from exc


def predicting(flavor: str) -> translate:
    """Translate a failure inside ``predict`` into PredictionError (a server-side fault)."""
    return translate(PredictionError, f"the {flavor} model failed to predict")
