"""The serving package imports its names on first use: the entry point reads options first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import modelport
import modelport.serving as serving


def test_every_listed_name_is_exported() -> None:
    assert serving.__all__ == sorted(serving._EXPORTS)
    assert all(callable(getattr(serving, name)) for name in serving.__all__)


def test_the_entry_point_loads_no_web_framework_before_it_runs(tmp_path: Path) -> None:
    code = (
        "import sys, modelport.serving.__main__\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(modelport.__file__).parents[1])},
    )
    assert done.stdout.strip() == "[]"
