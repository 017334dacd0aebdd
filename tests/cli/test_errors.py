"""Every command ends with a clear message and a non-zero exit, never a traceback or "Aborted."."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import modelport
import modelport.registry
import modelport.serving.server
from modelport.cli import app

runner = CliRunner()
DEBUG_ENV = "MODELPORT_DEBUG"  # documented in `modelport --help`
MAIN = "from modelport.cli import main; main()"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "cli-user")
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record a server start instead of serving (a test must never block on one)."""
    started: list[Any] = []
    monkeypatch.setattr(modelport.serving.server, "run", started.append)
    return started


def models_in_registry() -> list[Any]:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


@pytest.mark.parametrize("content", [b"", b"\x80\x04\x95", b"garbage\n"])
def test_a_junk_pickle_is_an_error_message_not_aborted(env: Path, content: bytes) -> None:
    # an empty file makes pickle raise EOFError, which Typer used to report as "Aborted."
    path = env / "junk.pkl"
    path.write_bytes(content)
    result = runner.invoke(app, ["register", str(path), "--name", "junk", "--trust"])
    assert result.exit_code == 1
    assert "Aborted" not in result.output
    assert "error:" in result.output
    assert models_in_registry() == []


def test_the_real_entry_point_prints_one_line_and_a_hint_not_a_traceback(env: Path) -> None:
    path = env / "empty.pkl"
    path.write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-c", MAIN, "register", str(path), "--name", "junk", "--trust"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "MODELPORT_HOME": str(env / "home"),
            "PYTHONPATH": str(Path(modelport.__file__).parents[1]),  # this checkout's package
        },
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Aborted" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error:") and len(lines) <= 2, done.stderr


def test_an_unexpected_exception_says_how_to_see_the_traceback(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def __init__(self, *args: Any) -> None:
            raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(modelport.registry, "Registry", Broken)
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 1
    assert "unexpected RuntimeError: disk on fire\n" in result.output  # its first line only
    assert "second line" not in result.output
    assert f"{DEBUG_ENV}=1" in result.output

    monkeypatch.setenv(DEBUG_ENV, "1")
    result = runner.invoke(app, ["models", "list"])
    assert isinstance(result.exception, RuntimeError)  # the traceback, for whoever debugs


def test_register_names_a_missing_training_data_file_before_reading_the_model(
    env: Path,
) -> None:
    model = env / "model.skops"
    model.write_bytes(b"not read: the option is checked first")
    result = runner.invoke(
        app,
        ["register", str(model), "--name", "m", "--training-data", "missing.parquet"],
    )
    assert result.exit_code == 2
    assert "missing.parquet" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output
    assert models_in_registry() == []


def test_serve_names_a_missing_alert_rules_file(env: Path, no_server: list[Any]) -> None:
    result = runner.invoke(
        app, ["serve", "--monitor-interval", "60", "--alert-rules", "missing.yaml"]
    )
    assert result.exit_code == 1
    assert "no such alert rules file: missing.yaml" in result.output
    assert no_server == []


def test_serve_refuses_a_monitor_window_without_a_unit_before_starting(
    env: Path, no_server: list[Any]
) -> None:
    result = runner.invoke(app, ["serve", "--monitor-interval", "60", "--monitor-window", "5"])
    assert result.exit_code == 1
    assert "window '5' has no unit" in result.output
    assert no_server == []


def test_serve_refuses_alert_rules_that_would_never_be_evaluated(
    env: Path, no_server: list[Any]
) -> None:
    rules = env / "alerts.yaml"
    rules.write_text("rules: []\n")
    result = runner.invoke(app, ["serve", "--alert-rules", str(rules)])
    assert result.exit_code == 1
    assert "background monitor is off" in result.output and "--monitor-interval" in result.output
    assert no_server == []


def test_serve_checks_its_options_before_resolving_references(
    env: Path, no_server: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Any] = []
    real = modelport.registry.Registry

    def registry(*args: Any) -> Any:
        opened.append(args)
        return real(*args)

    monkeypatch.setattr(modelport.registry, "Registry", registry)
    result = runner.invoke(app, ["serve", "no-such-model", "--port", "70000"])
    assert result.exit_code == 1
    assert "port 70000 is not between 0 and 65535" in result.output
    assert "no model" not in result.output
    assert opened == [] and no_server == []

    result = runner.invoke(app, ["serve", "no-such-model", "--port", "8080"])
    assert result.exit_code == 1 and "no-such-model" in result.output
    assert no_server == []


def test_batch_to_a_file_prints_no_progress_bar_before_its_error(env: Path) -> None:
    result = runner.invoke(app, ["batch", "m", "missing.parquet", "out.parquet"])
    assert result.exit_code == 1
    assert result.output.startswith("error: the input missing.parquet does not exist")
    assert not (env / "out.parquet").exists()
