"""The CLI as a user types it: register from files, list, show, aliases, history, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelport.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "cli-user")
    return tmp_path


@pytest.fixture
def model_files(env: Path) -> tuple[Path, Path]:
    import skops.io

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    clf = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    model_path, sample_path = env / "model.skops", env / "sample.parquet"
    skops.io.dump(clf, model_path)
    X.to_parquet(sample_path)
    return model_path, sample_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_register_list_show_alias_promote_rollback_history(model_files: tuple[Path, Path]) -> None:
    model, sample = model_files
    for _ in range(2):
        code, out = run(
            "register",
            str(model),
            "--name",
            "m",
            "--sample",
            str(sample),
            "--metric",
            "auc=0.9",
            "--tag",
            "team=x",
        )
        assert code == 0, out
    code, out = run("models", "list", "--json")
    assert code == 0 and json.loads(out)[0]["latest_version"] == 2
    code, out = run("models", "show", "m:1", "--json")
    assert json.loads(out)["metrics"] == {"auc": 0.9}
    assert [f["name"] for f in json.loads(out)["signature"]["inputs"]] == ["a", "b", "c"]
    assert run("alias", "set", "m:1", "production")[0] == 0
    assert run("alias", "set", "m:2", "staging")[0] == 0
    assert run("promote", "m@staging", "--to", "production", "-m", "better")[0] == 0
    code, out = run("rollback", "m@production", "--json")
    assert code == 0 and json.loads(out)["to_version"] == 1
    code, out = run("history", "m", "--alias", "production", "--json")
    events = json.loads(out)
    assert [e["action"] for e in events] == ["set", "promote", "rollback"]
    assert events[1]["reason"] == "better" and events[1]["actor"] == "cli-user"
    assert run("alias", "rm", "m", "staging")[0] == 0
    code, out = run("models", "search", "m", "--tag", "team=x", "--json")
    assert len(json.loads(out)) == 2
    for args in (
        ["models", "list"],
        ["models", "show", "m"],
        ["models", "show", "m@production"],
        ["history", "m"],
    ):
        code, out = run(*args)
        assert code == 0 and "m" in out


@pytest.mark.parametrize(
    "args",
    [
        ["models", "show", "nope"],
        ["models", "show", "bad name"],
        ["alias", "set", "m:7", "production"],
        ["rollback", "m@production"],
    ],
)
def test_errors_are_one_clear_line_and_change_nothing(
    model_files: tuple[Path, Path], args: list[str]
) -> None:
    from modelport.cli import main

    model, sample = model_files
    assert run("register", str(model), "--name", "m", "--sample", str(sample))[0] == 0
    import sys

    argv = sys.argv
    sys.argv = ["modelport", *args]
    try:
        with pytest.raises(SystemExit) as info:
            main()
    finally:
        sys.argv = argv
    assert info.value.code == 1
    _, out = run("history", "m", "--json")
    assert json.loads(out) == []


def test_register_refuses_pickles_without_trust(env: Path) -> None:
    import joblib

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    path = env / "m.joblib"
    joblib.dump(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), path)
    result = runner.invoke(app, ["register", str(path), "--name", "p"])
    assert result.exit_code == 1
    assert "error:" in result.output and "pickle" in result.output
    result = runner.invoke(app, ["register", str(path), "--name", "p", "--trust"])
    assert result.exit_code == 0, result.output


def test_bad_options_are_usage_errors(model_files: tuple[Path, Path]) -> None:
    model, _ = model_files
    assert run("register", str(model), "--name", "m", "--metric", "auc")[0] == 2
    assert run("register", str(model), "--name", "m", "--metric", "auc=high")[0] == 2


def test_every_command_has_an_example_in_its_help() -> None:
    import click
    import typer

    def walk(command: click.Command, path: list[str]) -> list[list[str]]:
        found = [path]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += walk(sub, [*path, name])
        return found

    root = typer.main.get_command(app)
    for path in walk(root, []):
        code, out = run(*path, "--help")
        assert code == 0 and "Example" in out, path


def test_register_can_say_the_model_accepts_unknown_categories(env: Path) -> None:
    import skops.io
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame = pd.DataFrame({"colour": ["red", "blue"] * 20, "x": np.arange(40.0)})
    # an encoder modelport cannot see tolerance in (strict): the user says so instead
    model = make_pipeline(
        make_column_transformer((OrdinalEncoder(), ["colour"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, (frame["x"] > 20).astype(int))
    skops.io.dump(model, env / "m.skops")
    frame.to_parquet(env / "s.parquet")
    for name, flags in (("strict", []), ("lenient", ["--allow-unknown-categories"])):
        code, out = run(
            "register", str(env / "m.skops"), "-n", name, "--sample", str(env / "s.parquet"), *flags
        )
        assert code == 0, out
    from modelport.registry import Registry
    from modelport.settings import Settings

    registry = Registry(Settings(home=env / "home"))
    accepts = {
        n: registry.get(n).signature["allow_unknown_categories"] for n in ("strict", "lenient")
    }
    registry.close()
    assert accepts == {"strict": False, "lenient": True}
