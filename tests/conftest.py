"""Shared fixtures: an isolated MODELPORT_HOME per test, and registries on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.registry import Registry
from modelport.settings import Settings

pytest_plugins = ["tests.postgres", "tests.prometheus_server", "tests.s3"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--integration",
        action="store_true",
        help="also run integration tests (real servers, PostgreSQL, Spark); .ci/run does",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--integration"):
        return
    skip = pytest.mark.skip(reason="integration test: run with --integration")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", user="tester")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.integration]),
    ]
)
def registry_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh registry, once on SQLite and once on a real PostgreSQL server."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        return Settings(home=home, user="tester")
    uri = request.getfixturevalue("postgres_database")
    return Settings(home=home, registry_uri=uri, user="tester")


@pytest.fixture
def registry(registry_settings: Settings) -> Iterator[Registry]:
    reg = Registry(registry_settings)
    yield reg
    reg.close()
