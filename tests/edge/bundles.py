"""Running a bundle's predict.py in this process, the way a device runs it as a script."""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from modelport.edge.lines import json_lines

_loaded = itertools.count()


def runner_of(bundle: Path) -> ModuleType:
    """The bundle's own predict.py as a module (its file, not modelport.edge.runner)."""
    spec = importlib.util.spec_from_file_location(
        f"edge_predict_{next(_loaded)}", bundle / "predict.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_bundle(bundle: Path, lines: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, the answers (one dict per output line) and standard error."""
    out, err = io.StringIO(), io.StringIO()
    rows = io.StringIO("".join(line + "\n" for line in lines))
    code = runner_of(bundle).main(["-"], stdin=rows, stdout=out, stderr=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def jsonl(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row, as a client would write it."""
    return json_lines(frame)
