"""services.packaging: what is refused before anything is written (the package itself is
tested in tests/packaging, the CLI's JSON in tests/cli/test_package.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import InvalidArgument, NotFoundError
from modelport.packaging.context import PackageOptions
from modelport.registry import Registry
from modelport.services.packaging import package
from modelport.settings import Settings
from tests.packaging.conftest import register_numeric


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    settings = Settings(home=tmp_path / "home", user="tester")
    register_numeric(settings)
    reg = Registry(settings)
    yield reg  # type: ignore[misc]
    reg.close()


def test_an_unknown_artifacts_mode_is_refused(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="copy, fetch"):
        package(
            registry, registry.settings, "numeric:1", tmp_path / "out",
            PackageOptions(artifacts="ship"),  # type: ignore[arg-type]
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_an_unknown_target_writes_nothing(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        package(registry, registry.settings, "numeric:9", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
