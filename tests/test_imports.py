"""What loads when: the CLI starts on Typer and Rich alone, and layers import downwards only.

Each check runs in a fresh interpreter, since this test process has imported everything.
(How fast that start is, is measured by bench/cli/startup.py, not asserted here.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelport

#: libraries that cost a CLI start seconds, and that no help text or registry listing needs
HEAVY = ("pandas", "numpy", "sklearn", "scipy", "matplotlib", "fastapi", "pyarrow", "duckdb")
SOURCE = str(Path(modelport.__file__).parents[1])


def modules_after(code: str, home: Path) -> set[str]:
    """The top-level packages in ``sys.modules`` after running ``code`` (its output muted)."""
    script = (
        "import contextlib, io, json, sys\n"
        "from contextlib import redirect_stderr, redirect_stdout\n"
        "with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        + "".join(f"        {line}\n" for line in code.splitlines())
        + "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('modelport'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE, "MODELPORT_HOME": str(home)},
        check=True,
    )
    top, ours = done.stdout.strip().splitlines()[-2:]
    return set(json.loads(top)) | set(json.loads(ours))


def cli(*args: str) -> str:
    return f"from modelport.cli import main\nsys.argv = ['modelport', *{list(args)!r}]\nmain()"


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    loaded = modules_after("import modelport.cli", tmp_path)
    assert "modelport.cli" in loaded  # the probe works
    assert sorted(loaded & {*HEAVY, "sqlalchemy", "alembic"}) == []
    # the settings tree is loaded (about 0.2 s): `serve`'s options take their defaults and
    # help from it, so that they are written once
    assert "modelport.registry" not in loaded and "modelport.runtime.pool" not in loaded


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [],  # no arguments: the help too
        ["serve", "--help"],
        ["batch", "--help"],
        ["monitor", "--help"],
        ["models", "list", "--help"],
        ["register", "--help"],
    ],
)
def test_help_loads_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    loaded = modules_after(cli(*args), tmp_path)
    assert "typer" in loaded
    assert sorted(loaded & {*HEAVY, "sqlalchemy", "alembic"}) == []


def test_listing_the_registry_needs_only_the_registry(tmp_path: Path) -> None:
    loaded = modules_after(cli("models", "list"), tmp_path)
    assert "sqlalchemy" in loaded  # the listing did run
    assert sorted(loaded & set(HEAVY)) == []


def test_the_package_init_is_lazy_and_still_exports_everything(tmp_path: Path) -> None:
    loaded = modules_after("import modelport", tmp_path)
    assert sorted(loaded & {*HEAVY, "sqlalchemy"}) == []
    assert modules_after("from modelport import Reference, errors", tmp_path) & set(HEAVY) == set()
    assert all(hasattr(modelport, name) for name in modelport.__all__)


def test_the_server_entry_point_does_not_import_the_cli(tmp_path: Path) -> None:
    loaded = modules_after("import modelport.serving.__main__", tmp_path)
    assert "modelport.runtime.config" in loaded
    assert not {n for n in loaded if n.startswith("modelport.cli")}
