from __future__ import annotations

from pathlib import Path

from rich.console import Console

from modelport.demo.packaging import write_package
from modelport.registry import Registry
from modelport.settings import Settings
from tests.packaging.conftest import register_numeric


def test_the_demo_writes_a_package_and_says_how_to_build_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", user="demo")
    register_numeric(settings)
    console = Console(record=True, width=200)
    registry = Registry(settings)
    try:
        report = write_package(registry, "numeric@production", tmp_path / "pkg", console)
    finally:
        registry.close()
    text = console.export_text()
    assert "buildah bud" in text and "docker build" in text
    assert "numeric:2" in text
    out = tmp_path / "pkg"
    assert report.result.out_dir == out.resolve()
    assert (out / "Dockerfile").is_file() and (out / "docker-compose.yaml").is_file()
    assert len(list((out / "k8s").glob("*.yaml"))) == 10
    assert "k8s/  10 Kubernetes manifests" in text
