"""The monitoring package imports its names on first use and still exports every one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import modelport
import modelport.monitoring as monitoring


def test_every_listed_name_is_exported() -> None:
    assert monitoring.__all__ == sorted(monitoring._EXPORTS)
    assert all(getattr(monitoring, name) is not None for name in monitoring.__all__)
    assert set(monitoring.__all__) <= set(dir(monitoring))


def test_alert_rules_do_not_load_scipy() -> None:
    code = "import sys, modelport.monitoring.alerts\nprint('scipy' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(modelport.__file__).parents[1])},
    )
    assert done.stdout.strip() == "False"
