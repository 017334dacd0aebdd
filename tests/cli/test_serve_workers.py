"""``modelport serve --workers N --metrics-dir DIR`` reaches the server's config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import modelport.serving.server
from modelport.cli.serve import attach


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    calls: list[Any] = []
    monkeypatch.setattr(modelport.serving.server, "run", lambda c, s: calls.append(c))
    return calls


def serve(*args: str) -> Any:
    app = typer.Typer()
    attach(app)

    @app.command("version")  # a second command: Typer then keeps `serve` as a subcommand
    def _version() -> None: ...

    return CliRunner().invoke(app, ["serve", *args])


def test_workers_and_their_metrics_directory_are_passed_on(started: list[Any]) -> None:
    result = serve("--no-auth", "--workers", "2", "--metrics-dir", "/srv/metrics")
    assert result.exit_code == 0, result.output
    assert started[0].workers == 2 and started[0].metrics_dir == "/srv/metrics"
    assert started[0].shared_metrics_dir() == "/srv/metrics"


def test_the_metrics_directory_is_a_setting_too(
    started: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_SERVING__METRICS_DIR", "/run/modelport")
    assert serve("--no-auth", "--workers", "3").exit_code == 0
    assert started[0].metrics_dir == "/run/modelport"


def test_help_explains_workers_and_the_metrics_directory(started: list[Any]) -> None:
    text = serve("--help").output
    assert "--workers" in text and "--metrics-dir" in text
    assert "Prometheus" in text  # what --metrics-dir is for
