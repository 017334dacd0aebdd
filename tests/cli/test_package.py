"""``modelport package``: the JSON scripts read, the human output, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from modelport.cli import package as package_cli
from modelport.settings import Settings
from tests.packaging.conftest import register_numeric

runner = CliRunner()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[typer.Typer]:
    # one home for the module: its wheel cache makes every package after the first quick
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELPORT_HOME", str(tmp_path_factory.mktemp("cli") / "home"))
        patch.setenv("MODELPORT_USER", "packager")
        register_numeric(Settings())
        cli = typer.Typer()
        cli.command("noop")(lambda: None)  # two commands: typer keeps `package` a subcommand
        package_cli.attach(cli)
        yield cli


def test_help_has_an_example(app: typer.Typer) -> None:
    result = runner.invoke(app, ["package", "--help"])
    assert result.exit_code == 0
    assert "modelport package credit-risk@production --out" in result.output
    for option in ("--k8s", "--compose", "--artifacts", "--base-image", "--force", "--json"):
        assert option in result.output


def test_json_describes_the_package_and_force_replaces_it(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    result = runner.invoke(
        app, ["package", "checkout", "--out", str(out), "--k8s", "--artifacts", "fetch", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["deployment"] == "checkout" and data["artifacts"] == "fetch"
    assert sorted(v["ref"] for v in data["versions"]) == ["numeric:1", "numeric:2"]
    assert (out / "Dockerfile").is_file() and (out / "k8s" / "deployment.yaml").is_file()
    assert not (out / "package" / "models").exists()  # fetch: no artifact in the image
    again = runner.invoke(app, ["package", "checkout", "--out", str(out)])
    assert again.exit_code != 0 and "--force" in str(again.exception or again.output)
    forced = runner.invoke(app, ["package", "numeric:1", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "buildah bud" in forced.output and "numeric:1" in forced.output
    assert not (out / "k8s").exists()  # replaced, not merged


def test_force_never_deletes_a_directory_that_is_no_package(
    app: typer.Typer, tmp_path: Path
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["package", "numeric:1", "--out", str(precious), "--force"])
    assert result.exit_code != 0
    assert (precious / "notes.txt").read_text() == "keep me"


def test_an_unknown_artifacts_mode_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["package", "numeric:1", "--out", str(tmp_path / "x"), "--artifacts", "ship"]
    )
    assert result.exit_code != 0
    assert not (tmp_path / "x").exists()
