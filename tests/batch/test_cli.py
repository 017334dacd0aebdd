"""``modelport batch`` adapts the service: arguments in, a summary out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from modelport.cli.batch import attach
from modelport.settings import Settings
from tests.batch.conftest import make_frame, read, write


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    attach(application)

    @application.command("noop", hidden=True)
    def noop() -> None:  # a second command keeps Typer from collapsing "batch" into the root
        """Unused."""

    return application


def test_batch_command_scores_and_reports(
    tmp_path: Path, batch_settings: Settings, app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_HOME", str(batch_settings.home))
    source = write(make_frame(120, seed=31), tmp_path / "in.csv")
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "batch",
            "clf:1",
            str(source),
            str(target),
            "--keep",
            "id,note",
            "--workers",
            "1",
            "--batch-size",
            "50",
            "--no-proba",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows_scored"] == 120 and summary["parts"] == 3
    assert list(read(target).columns) == ["id", "note", "prediction"]


def test_batch_help_has_an_example(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["batch", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "modelport batch" in result.output
