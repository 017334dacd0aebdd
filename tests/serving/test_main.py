"""``python -m modelport.serving``: the options of ``modelport serve``, read from the config."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from modelport.cli import app
from modelport.runtime.config import BatchConfig, ServeConfig
from modelport.serving import __main__ as entry
from modelport.settings import Settings


def cli_options() -> set[str]:
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    options = [p for p in serve.params if p.param_type_name == "option"]
    return {name for option in options for name in (*option.opts, *option.secondary_opts)}


def entry_options() -> set[str]:
    return {
        name
        for action in entry.parser()._actions
        for name in action.option_strings
        if name not in ("-h", "--help")
    }


def test_both_entry_points_take_the_same_options() -> None:
    assert entry_options() == cli_options() - {"--help"}


def test_arguments_become_the_config_the_cli_would_build() -> None:
    config = entry.config_from_args(
        [
            "a@production",
            "b:2",
            "--port",
            "0",
            "--workers",
            "2",
            "--max-batch-size",
            "8",
            "--model-batch",
            "a=4/2.5",
            "--model-log-rate",
            "b=0",
            "--no-access-log",
        ],
        Settings(home=Path("unused")),
    )
    assert config == ServeConfig(
        refs=("a@production", "b:2"),
        port=0,
        workers=2,
        batch=BatchConfig(max_batch_size=8),
        model_batch={"a": BatchConfig(4, 2.5)},
        model_log_rate={"b": 0.0},
        access_log=False,
    )
    assert entry.config_from_args([], Settings(home=Path("unused"))) == ServeConfig()


def test_defaults_come_from_the_settings_and_flags_override_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELPORT_SERVING__PORT", "9123")
    monkeypatch.setenv("MODELPORT_SERVING__MAX_BATCH_SIZE", "16")
    settings = Settings()
    assert entry.config_from_args([], settings) == ServeConfig(
        port=9123, batch=BatchConfig(max_batch_size=16)
    )
    assert entry.config_from_args(["--port", "81"], settings).port == 81


def test_the_platform_port_is_the_default_and_the_serving_port_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "8765")  # Cloud Run, Cloud Functions 2nd gen
    assert entry.config_from_args([], Settings()).port == 8765
    assert entry.config_from_args(["--port", "81"], Settings()).port == 81
    monkeypatch.setenv("MODELPORT_SERVING__PORT", "9123")
    assert entry.config_from_args([], Settings()).port == 9123


def test_a_bad_option_is_one_error_and_no_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import modelport.serving.server

    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    started: list[ServeConfig] = []
    monkeypatch.setattr(modelport.serving.server, "run", lambda c, s: started.append(c))
    with pytest.raises(SystemExit) as info:
        entry.main(["missing-model", "--port", "70000"])
    assert info.value.code == 1 and started == []
    assert "error: port 70000 is not between 0 and 65535" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        entry.main(["missing-model"])
    assert "missing-model" in capsys.readouterr().err and started == []
