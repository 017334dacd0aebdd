"""The root package's one export list: ``__all__`` is exactly what ``modelport`` provides.

The package is lazy (PEP 562), so "what it provides" has three parts: the names bound at
import, the names ``__getattr__`` resolves on first use, and the names type checkers see
(the ``TYPE_CHECKING`` imports). All three must agree with ``__all__``. The runtime checks
run in a fresh interpreter: this test process has imported everything already, which would
hide a lazy name that does not resolve, or an eager import of a heavy library.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelport
from tests.test_imports import modules_after

INIT = Path(modelport.__file__)
SOURCE = str(INIT.parents[1])
#: dunders that belong in ``__all__`` although they start with an underscore
DUNDERS = {"__version__"}


def fresh(code: str, home: Path) -> object:
    """The JSON that ``code`` prints in a new interpreter on this worktree's source."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE, "MODELPORT_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr  # e.g. a name in __all__ that does not resolve
    return json.loads(done.stdout.strip().splitlines()[-1])


def type_checking_imports() -> dict[str, tuple[str, str]]:
    """Name -> (module, attribute) of every import under ``if TYPE_CHECKING:``."""
    found: dict[str, tuple[str, str]] = {}
    for node in ast.parse(INIT.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = (stmt.module, alias.name)
    assert found, "no TYPE_CHECKING block found: the probe is broken"
    return found


def getattr_names() -> set[str]:
    """Every name ``__getattr__`` resolves: the ``_EXPORTS`` table and its special cases."""
    tree = ast.parse(INIT.read_text())
    [function] = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"
    ]
    special = {
        comparator.value
        for node in ast.walk(function)
        if isinstance(node, ast.Compare)
        for comparator in node.comparators
        if isinstance(comparator, ast.Constant) and isinstance(comparator.value, str)
    }
    return set(modelport._EXPORTS) | special


def test_all_has_no_duplicates_and_no_private_names() -> None:
    assert len(modelport.__all__) == len(set(modelport.__all__))
    private = [n for n in modelport.__all__ if n.startswith("_") and n not in DUNDERS]
    assert private == []


def test_all_is_what_import_binds_plus_what_getattr_resolves(tmp_path: Path) -> None:
    eager = fresh(
        "import json, modelport\n"
        "print(json.dumps(sorted(n for n in vars(modelport) if not n.startswith('_'))))",
        tmp_path,
    )
    assert isinstance(eager, list)
    public = {*eager, *getattr_names(), *(DUNDERS & set(vars(modelport)))}
    assert public == set(modelport.__all__)


def test_every_exported_name_resolves_lazily_in_a_fresh_interpreter(tmp_path: Path) -> None:
    resolved = fresh(
        "import json, modelport\n"
        "out = {}\n"
        "for name in modelport.__all__:\n"
        "    value = getattr(modelport, name)\n"
        "    out[name] = [getattr(value, '__module__', None) or getattr(value, '__name__', None),"
        " getattr(value, '__qualname__', None) or getattr(value, '__name__', None)]\n"
        "print(json.dumps(out))",
        tmp_path,
    )
    assert isinstance(resolved, dict)
    assert set(resolved) == set(modelport.__all__)
    # the lazy table and the static view agree on where each name comes from
    for name, (module, attribute) in type_checking_imports().items():
        want = getattr(importlib.import_module(module), attribute)
        assert getattr(modelport, name) is want, name
        assert resolved[name] == [want.__module__, want.__qualname__], name


def test_type_checkers_see_exactly_the_lazy_names() -> None:
    # a name only __getattr__ knows is Any to mypy; one only TYPE_CHECKING knows fails at runtime
    assert set(type_checking_imports()) == getattr_names()


def test_star_import_gives_exactly_all_and_unknown_names_raise(tmp_path: Path) -> None:
    names = fresh(
        "import json\n"
        "namespace = {}\n"
        "exec('from modelport import *', namespace)\n"
        "print(json.dumps(sorted(n for n in namespace if n != '__builtins__')))",
        tmp_path,
    )
    assert names == sorted(modelport.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        modelport.no_such_name  # noqa: B018


def test_import_modelport_alone_imports_no_heavy_library(tmp_path: Path) -> None:
    loaded = modules_after("import modelport", tmp_path)
    assert "modelport" in loaded  # the probe ran
    assert sorted(loaded & {"pandas", "sklearn", "fastapi", "sqlalchemy"}) == []
