"""Tables piped to a file or a script carry their full values; a terminal keeps its width."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import modelport
from modelport.cli import app
from modelport.cli.output import table
from modelport.settings import Settings

runner = CliRunner()  # its output is not a terminal, like `modelport ... > file`

NAME = "credit-risk-" + "n" * 90 + "-end"  # 105 characters: longer than 80 columns
DESCRIPTION = "A description that says at length what the model is for, " * 3 + "THE END"


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COLUMNS", raising=False)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    modelport.register(model, NAME, sample=X, description=DESCRIPTION, settings=Settings())
    return NAME


def test_models_list_prints_a_long_name_in_full(registered: str) -> None:
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert registered in result.output
    assert "…" not in result.output


def test_models_show_prints_a_long_description_in_full(registered: str) -> None:
    result = runner.invoke(app, ["models", "show", f"{registered}:1"])
    assert result.exit_code == 0, result.output
    assert DESCRIPTION in result.output and registered in result.output
    assert "…" not in result.output


def test_only_the_table_is_widened_not_the_console() -> None:
    file = io.StringIO()
    out = Console(file=file, width=80)
    table("T", ["name", "value"], [("x" * 120, "y")], out)
    out.rule()
    lines = file.getvalue().splitlines()
    assert any("x" * 120 in line for line in lines)
    assert len(lines[-1]) == 80  # a rule after the table is still the console's width
    assert all(line == line.rstrip() for line in lines)


def test_a_terminal_keeps_its_width() -> None:
    file = io.StringIO()
    out = Console(file=file, width=60, force_terminal=True, color_system=None)
    table("T", ["name", "value"], [("x" * 120, "y")], out)
    assert max(len(line) for line in file.getvalue().splitlines()) <= 60
