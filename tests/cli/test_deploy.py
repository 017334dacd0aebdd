"""``modelport deploy``: create, show, change, list, history, remove; bad input stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import modelport
from modelport.cli import app
from modelport.settings import Settings

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "deployer")
    settings = Settings()
    X = np.random.default_rng(0).normal(size=(60, 3))
    for c in (1.0, 0.1, 0.01):
        model = LogisticRegression(C=c).fit(X, (X[:, 0] > 0).astype(int))
        modelport.register(model, "credit-risk", sample=X, settings=settings)
    modelport.set_alias("credit-risk:1", "production", settings=settings)
    return settings


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_the_whole_life_of_a_deployment(home: Settings) -> None:
    code, out = run(
        "deploy", "create", "checkout",
        "--arm", "credit-risk@production=90", "--arm", "credit-risk:2=10",
        "--sticky", "header:X-User-Id", "--shadow", "credit-risk:3=50",
        "-m", "launch", "--json",
    )  # fmt: skip
    assert code == 0, out
    code, out = run("deploy", "show", "checkout", "--json")
    shown = json.loads(out)
    assert shown["arms"] == [
        {"ref": "credit-risk@production", "weight": 90.0},
        {"ref": "credit-risk:2", "weight": 10.0},
    ]
    assert shown["sticky"] == "header:X-User-Id" and shown["revision"] == 1
    assert shown["shadows"] == [{"ref": "credit-risk:3", "percent": 50.0}]
    code, out = run("deploy", "set", "checkout", "--arm", "credit-risk@production=100")
    assert code == 0 and "100.0%" in out, out
    code, out = run("deploy", "list", "--json")
    assert [d["name"] for d in json.loads(out)] == ["checkout"]
    assert run("deploy", "rm", "checkout", "-m", "over")[0] == 0
    code, out = run("deploy", "history", "checkout", "--json")
    events = json.loads(out)
    assert [(e["action"], e["actor"], e["reason"]) for e in events] == [
        ("create", "deployer", "launch"),
        ("set", "deployer", None),
        ("remove", "deployer", "over"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arm", "credit-risk@production=0"], "add up to 0"),
        (["--arm", "credit-risk:9=1"], "version 9"),
        (["--arm", "nope=1"], "no model named 'nope'"),
        (["--arm", "credit-risk:1=1", "--shadow", "credit-risk:1=50"], "both an arm and a shadow"),
        (["--arm", "credit-risk:1"], "not REF=WEIGHT"),
        (["--arm", "credit-risk:1=1", "--sticky", "cookie:x"], "neither header"),
    ],
)
def test_bad_deployments_are_one_error_and_store_nothing(
    home: Settings, args: list[str], message: str
) -> None:
    code, out = run("deploy", "create", "checkout", *args)
    assert code == 1, out
    assert "error:" in out and message in out
    assert run("deploy", "list", "--json")[1].strip() == "[]"


def test_the_python_api_creates_then_changes(home: Settings) -> None:
    first = modelport.deploy("checkout", {"credit-risk@production": 1}, settings=home)
    second = modelport.deploy(
        "checkout", {"credit-risk@production": 1, "credit-risk:2": 1}, settings=home
    )
    assert (first.revision, second.revision) == (1, 2)
    assert second.spec.shares() == [0.5, 0.5]
