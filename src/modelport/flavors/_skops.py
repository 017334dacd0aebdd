"""skops, imported without its scan of all of scikit-learn.

Importing ``skops.io`` builds its default trusted types, and one of those lists is
every scikit-learn estimator: ``sklearn.utils.all_estimators()``, which imports every
public scikit-learn module (and pytest, through ``sklearn.utils._testing``). That is
most of a server's start-up, to load a file that names the few types it holds.

:func:`skops_io` imports skops with that list left empty and put behind
:class:`_DeferredEstimatorNames`, which computes the real list the first time anyone
reads it. Only inside :func:`own_audit` does it read as empty: there modelport itself
decides which estimator types of one file skops would have trusted by default, one type
at a time (:func:`is_default_estimator`, the same rules as ``all_estimators``, falling
back to the real list when a type is not found the quick way). So a skops user elsewhere
in the process sees skops exactly as it is, and our loader trusts exactly what skops'
defaults plus the recorded types would have trusted. During that import skops also names
its ~850 default ufuncs by scanning every loaded module for each; an index of the loaded
modules gives the same names at a fraction of the cost (:class:`_IndexedWhichmodule`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gc
import importlib
import inspect
import itertools
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any, SupportsIndex

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
#: held while ``sklearn.utils.all_estimators`` is stubbed out (and while the real list is
#: computed), so two threads loading models at once cannot keep the stub or cache its answer
_PATCHING = threading.RLock()
_OWN_AUDIT: contextvars.ContextVar[bool] = contextvars.ContextVar("own_audit", default=False)


class _DeferredEstimatorNames(list[str]):
    """skops' ``SKLEARN_ESTIMATOR_TYPE_NAMES``, filled on first read outside :func:`own_audit`.

    skops reads it as ``SKLEARN_ESTIMATOR_TYPE_NAMES + SKLEARN_INTERNAL_TYPE_NAMES``
    (``__add__``) for every object node; the other reads are covered so that any use of
    the list by anyone sees the real contents.
    """

    _filled = False

    def _fill(self) -> None:
        if not self._filled:
            self._filled = True
            super().extend(all_estimator_names())

    def __add__(self, other: list[str]) -> list[str]:  # type: ignore[override]
        if _OWN_AUDIT.get() and not self._filled:
            return list(other)
        self._fill()
        return list(self) + list(other)

    def __radd__(self, other: list[str]) -> list[str]:
        self._fill()
        return list(other) + list(self)

    def __iter__(self) -> Iterator[str]:
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __contains__(self, item: object) -> bool:
        self._fill()
        return super().__contains__(item)

    def __getitem__(self, index: Any) -> Any:
        self._fill()
        return super().__getitem__(index)

    def __eq__(self, other: object) -> bool:
        self._fill()
        return super().__eq__(other)

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    def index(self, value: str, start: SupportsIndex = 0, stop: SupportsIndex = sys.maxsize) -> int:
        self._fill()
        return super().index(value, start, stop)

    def count(self, value: str) -> int:
        self._fill()
        return super().count(value)

    def copy(self) -> list[str]:
        self._fill()
        return super().copy()


def skops_io() -> ModuleType:
    """``skops.io``; imported here first, it skips the ``all_estimators()`` scan."""
    with _PATCHING:
        if "skops.io" not in sys.modules:
            _import_skops_io()
    return sys.modules["skops.io"]


def _import_skops_io() -> None:
    import sklearn.utils

    # skops' _trusted_types does ``from sklearn.utils import all_estimators`` and calls it
    # at import; for that import only, the call finds nothing, and the list it built is
    # swapped for one that fills itself when first read.
    real = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = lambda type_filter=None: []
    hook = _IndexedWhichmodule()
    sys.meta_path.insert(0, hook)
    try:
        importlib.import_module("skops.io")
    finally:
        sklearn.utils.all_estimators = real
        sys.meta_path.remove(hook)
        hook.restore()
    deferred = _DeferredEstimatorNames()
    for name in ("skops.io._trusted_types", "skops.io._general"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "SKLEARN_ESTIMATOR_TYPE_NAMES", None) == []:
            module.SKLEARN_ESTIMATOR_TYPE_NAMES = deferred  # type: ignore[attr-defined]
    general = sys.modules.get("skops.io._general")
    if getattr(general, "SKLEARN_ESTIMATOR_TYPE_NAMES", None) is not deferred:
        # Not the skops layout this was written against: give skops its real list.
        for name in ("skops.io._trusted_types", "skops.io._general"):
            names = getattr(sys.modules.get(name), "SKLEARN_ESTIMATOR_TYPE_NAMES", None)
            if isinstance(names, list) and not names:
                names.extend(all_estimator_names())


class _IndexedWhichmodule:
    """While skops builds its ufunc lists, answers ``whichmodule`` from one index.

    skops names each of about 850 NumPy and SciPy ufuncs by the first module in
    ``sys.modules`` holding it under its name, with one ``getattr`` per module per ufunc:
    in a server, with ~2,000 modules loaded before SciPy, a third of a second. The
    answer here is the same first module, found in an index of the plain modules'
    namespaces (rebuilt when ``sys.modules`` grew; each answer is checked live); modules
    that may compute attributes (a ``__getattr__``, a module subclass) are still asked
    with ``getattr``, in order. It is installed as a meta path finder only to run when
    skops' module of trusted types is about to load (``skops.io._utils`` is loaded by
    then), and only for the rest of that import.
    """

    def __init__(self) -> None:
        self._utils: ModuleType | None = None
        self._real: Any = None
        self._names: list[str] = []
        self._first: dict[tuple[str, int], int] = {}
        self._computed: list[tuple[int, ModuleType]] = []

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "skops.io._trusted_types" and self._utils is None:
            utils = sys.modules.get("skops.io._utils")
            if utils is not None and callable(getattr(utils, "whichmodule", None)):
                self._utils, self._real = utils, utils.whichmodule
                utils.whichmodule = self.whichmodule  # type: ignore[attr-defined]
        return None  # the normal finders load the module

    def restore(self) -> None:
        if self._utils is not None:
            self._utils.whichmodule = self._real  # type: ignore[attr-defined]

    def whichmodule(self, obj: Any, name: str) -> str:
        module_name = getattr(obj, "__module__", None)
        if module_name is not None:
            return str(module_name)
        if "." in name or name.startswith("__"):
            return str(self._real(obj, name))
        self._index()
        first = self._first.get((name, id(obj)), len(self._names))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for position, module in self._computed:
                if position >= first:
                    break
                try:
                    if getattr(module, name, None) is obj:
                        return self._names[position]
                except (AttributeError, ImportError):
                    continue
        if first < len(self._names):
            found = self._names[first]
            if getattr(sys.modules.get(found), name, None) is obj:
                return found
        return str(self._real(obj, name))  # not indexed: skops' own scan decides

    def _index(self) -> None:
        # Modules are only added while skops builds its lists (at the end of the dict, so
        # after every indexed one); a changed count means new modules, and a new index.
        if len(sys.modules) == len(self._names):
            return
        modules = sys.modules.copy()
        self._names, self._first, self._computed = list(modules), {}, []
        plain: list[tuple[int, dict[str, Any]]] = []
        for position, (module_name, module) in enumerate(modules.items()):
            if module_name in ("__main__", "__mp_main__") or module is None:
                continue
            namespace = getattr(module, "__dict__", None)
            if type(module) is not ModuleType or not isinstance(namespace, dict):
                self._computed.append((position, module))
                continue
            if "__getattr__" in namespace:
                self._computed.append((position, module))
            plain.append((position, namespace))
        # Latest module first, so the earliest holder of a name is the one that stays; the
        # pairs are made in C (zip, map), as ~100,000 names in a Python loop cost as much
        # as the scan this replaces.
        # The collector is held off meanwhile: these new tuples would set off full
        # collections over everything the process has loaded, twice the index's own cost.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for position, namespace in reversed(plain):
                pairs = zip(namespace.keys(), map(id, namespace.values()), strict=True)
                self._first.update(zip(pairs, itertools.repeat(position)))
        finally:
            if collecting:
                gc.enable()


@contextlib.contextmanager
def own_audit() -> Iterator[None]:
    """Within: skops trusts no scikit-learn estimator by default; the caller decides."""
    token = _OWN_AUDIT.set(True)
    try:
        yield
    finally:
        _OWN_AUDIT.reset(token)


def all_estimator_names() -> tuple[str, ...]:
    """skops' list, computed as skops computes it: the slow scan of all of scikit-learn."""
    with _PATCHING:  # never while all_estimators is stubbed out for skops' import
        return _all_estimator_names()


@functools.cache
def _all_estimator_names() -> tuple[str, ...]:
    from sklearn.utils import all_estimators

    names = (f"{cls.__module__}.{cls.__name__}" for _, cls in all_estimators())
    return tuple(name for name in names if name.startswith("sklearn."))


def is_default_estimator(name: str) -> bool:
    """Whether ``name`` is in skops' default trusted estimators, looking at that type alone.

    ``all_estimators()`` lists the classes deriving from ``BaseEstimator``, not abstract,
    found under a public name in a public module of scikit-learn (no ``_`` part, none of
    its ignored parts); skops keeps those whose own module is in scikit-learn. A class is
    normally exposed by a public package above its private module, so that is where it
    is looked for; if not found there, the real list decides.
    """
    cls = _sklearn_class(name)
    if cls is None:
        return False
    from sklearn.base import BaseEstimator
    from sklearn.utils import discovery

    ignored = getattr(discovery, "_MODULE_TO_IGNORE", None)
    if not isinstance(ignored, (set, frozenset)):
        return name in all_estimator_names()
    if not issubclass(cls, BaseEstimator) or getattr(cls, "__abstractmethods__", None):
        return False
    for module_name in _public_modules(cls.__module__, ignored):
        module = importlib.import_module(module_name)
        members = inspect.getmembers(module, inspect.isclass)
        if any(found is cls for attr, found in members if _public_estimator_name(attr)):
            return True
    return name in all_estimator_names()


def _public_estimator_name(attribute: str) -> bool:
    return not attribute.startswith("_") and attribute != "BaseEstimator"


def _public_modules(module_name: str, ignored: set[str] | frozenset[str]) -> list[str]:
    """The modules ``all_estimators`` walks among ``module_name`` and its parents, deepest first."""
    parts = module_name.split(".")
    modules = []
    for end in range(2, len(parts) + 1):  # "sklearn" itself is not walked, only below it
        prefix = parts[:end]
        if any(part.startswith("_") or part in ignored for part in prefix[1:]):
            break
        modules.append(".".join(prefix))
    return modules[::-1]


def _sklearn_class(name: str) -> type | None:
    """The scikit-learn class whose own module and name are exactly ``name``, if any."""
    cls = library_class(name, ("sklearn",))
    if cls is None or f"{cls.__module__}.{cls.__name__}" != name:
        return None
    return cls


def library_class(name: str, libraries: tuple[str, ...]) -> type | None:
    """The class a dotted ``name`` inside one of ``libraries`` refers to, if it is one.

    Only modules inside those libraries are imported (the prefix is checked first), so
    this runs no code from outside them; dunder parts are refused, since importing e.g.
    ``numpy.f2py.__main__`` would run a command line tool.
    """
    if not _DOTTED.fullmatch(name) or name.partition(".")[0] not in libraries:
        return None
    if any(part.startswith("__") for part in name.split(".")):
        return None
    module_name, _, attribute = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attribute, None)
    except Exception:
        return None
    return obj if isinstance(obj, type) else None
