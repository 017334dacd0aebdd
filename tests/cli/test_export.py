"""``modelport export``: the bundle written, the JSON scripts read, refusals, the help.

Until the lead adds ``export.attach(app)`` to cli/__init__.py the command is mounted on a
small app with the main app's root command class (its error handling).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import modelport
from modelport.cli import app as main_app
from modelport.cli import export
from modelport.settings import Settings
from tests.optimization.test_conversion import mixed_frame, mixed_pipeline

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer(cls=type(typer.main.get_command(main_app)), pretty_exceptions_enable=False)
    export.attach(app)

    @app.callback()
    def root() -> None:  # a group, so that `export` stays a subcommand as in the real CLI
        """modelport (test mount)."""

    return app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "exporter")
    frame, labels = mixed_frame(rows=200)
    modelport.register(mixed_pipeline().fit(frame, labels), "credit", sample=frame,
                       settings=Settings())  # fmt: skip
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(_app(), list(args))
    return result.exit_code, result.output


def test_json_names_the_source_parity_files_and_command(home: Path) -> None:
    out = home / "credit-edge"
    code, text = run("export", "credit:1", "--format", "edge", str(out), "--json")
    assert code == 0, text
    data = json.loads(text)
    assert data["source"] == "credit:1" and data["format"] == "edge" and data["converted"]
    assert data["parity"]["passed"] and data["parity"]["label_changes"] == 0.0
    assert (out / "predict.py").is_file() and set(data["files"]) >= {"model.onnx", "predict.py"}
    assert data["command"] == f"python {out / 'predict.py'} ROWS.jsonl"


def test_the_summary_says_how_to_run_it(home: Path) -> None:
    code, text = run("export", "credit:1", str(home / "edge"))
    assert code == 0, text
    assert "credit:1" in text and "parity on 200 rows" in text and "predict.py" in text


def test_a_non_empty_out_needs_force(home: Path) -> None:
    out = home / "edge"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code, text = run("export", "credit:1", str(out))
    assert code == 1 and "error:" in text and "--force" in text
    assert (out / "keep.txt").exists()
    code, text = run("export", "credit:1", str(out), "--force", "--json")
    assert code == 0 and not (out / "keep.txt").exists() and (out / "predict.py").exists()


def test_an_unknown_format_is_refused(home: Path) -> None:
    code, text = run("export", "credit:1", "--format", "tflite", str(home / "edge"))
    assert code == 1 and "not an export format" in text and "edge" in text
    assert not (home / "edge").exists()


def test_the_help_has_an_example() -> None:
    code, text = run("export", "--help")
    assert code == 0 and "Example" in text and "--format edge" in text and "--force" in text
