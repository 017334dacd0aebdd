"""Sticky assignment across real server processes and a restart: one user, one arm."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.settings import Settings
from tests.serving.conftest import start_server, stop_server

pytestmark = pytest.mark.integration
USERS = [f"user-{i}" for i in range(60)]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = Settings(home=tmp_path_factory.mktemp("sticky") / "home", user="tester")
    X = np.random.default_rng(0).normal(size=(100, 3))
    for c in (1.0, 0.1):
        model = LogisticRegression(C=c).fit(X, (X[:, 0] > 0).astype(int))
        modelport.register(model, "m", sample=X, settings=settings)
    modelport.deploy(
        "checkout", {"m:1": 50, "m:2": 50}, sticky="header:X-User-Id", settings=settings
    )
    return settings.resolved_home()


def assignments(url: str) -> list[str]:
    with httpx.Client(base_url=url, timeout=30) as client:
        out = []
        for user in USERS:
            r = client.post(
                "/v1/models/checkout:predict",
                json={"instances": [[0.1, 0.2, 0.3]]},
                headers={"X-User-Id": user},
            )
            assert r.status_code == 200, r.text
            out.append(r.headers["x-model-version"])
        return out


def test_two_processes_and_a_restart_assign_every_user_alike(home: Path, tmp_path: Path) -> None:
    args = ("--deployment", "checkout", "--log-sample-rate", "0")
    first = start_server(home, tmp_path / "a.log", *args)
    second = start_server(home, tmp_path / "b.log", *args)
    try:
        a, b = assignments(first.url), assignments(second.url)
    finally:
        stop_server(first)
        stop_server(second)
    assert a == b and set(a) == {"m:1", "m:2"}  # both arms used, identically
    again = start_server(home, tmp_path / "c.log", *args)
    try:
        assert assignments(again.url) == a
    finally:
        stop_server(again)
