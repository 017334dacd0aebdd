"""docker-compose.yaml: parses, every file it mounts exists, ports agree with the image."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from modelport.packaging.dockerfile import PORT
from tests.packaging.conftest import Packaged


def _compose(out: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((out / "docker-compose.yaml").read_text())  # type: ignore[no-any-return]


def test_every_mounted_file_exists_and_named_volumes_are_declared(packaged: Packaged) -> None:
    compose = _compose(packaged.out)
    assert set(compose["services"]) == {"modelport", "postgres", "prometheus", "grafana"}
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (packaged.out / source).exists(), f"{name}: {source}"
            else:
                assert source in compose["volumes"], f"{name}: {source}"
        for dependency in service.get("depends_on", []):
            assert dependency in compose["services"]
    assert compose["services"]["modelport"]["build"]["context"] == "."
    assert (
        packaged.out / compose["services"]["modelport"]["build"]["context"] / "Dockerfile"
    ).is_file()


def test_ports_agree_between_image_scrape_config_and_compose(packaged: Packaged) -> None:
    compose = _compose(packaged.out)
    modelport = compose["services"]["modelport"]
    assert modelport["ports"] == [f"{PORT}:{PORT}"]
    assert modelport["environment"]["MODELPORT_SERVING__PORT"] == str(PORT)
    assert f"EXPOSE {PORT}" in (packaged.out / "Dockerfile").read_text()
    scrape = yaml.safe_load((packaged.out / "compose" / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"modelport:{PORT}"]
    prometheus_port = compose["services"]["prometheus"]["ports"][0].split(":")[1]
    datasource = yaml.safe_load(
        (packaged.out / "compose/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    assert datasource["datasources"][0]["url"] == f"http://prometheus:{prometheus_port}"


def test_prometheus_loads_the_shipped_rules_and_grafana_the_dashboards(packaged: Packaged) -> None:
    compose = _compose(packaged.out)
    scrape = yaml.safe_load((packaged.out / "compose" / "prometheus.yml").read_text())
    rules_mount = next(
        v for v in compose["services"]["prometheus"]["volumes"] if v.startswith("./prometheus:")
    )
    target = rules_mount.split(":")[1]
    assert scrape["rule_files"] == [f"{target}/*.yml"]
    provider = yaml.safe_load(
        (packaged.out / "compose/grafana/provisioning/dashboards/modelport.yaml").read_text()
    )
    dashboards_mount = next(
        v for v in compose["services"]["grafana"]["volumes"] if v.startswith("./grafana:")
    )
    assert provider["providers"][0]["options"]["path"] == dashboards_mount.split(":")[1]


def test_the_registry_is_postgresql_and_no_password_is_written(packaged: Packaged) -> None:
    compose = _compose(packaged.out)
    uri = compose["services"]["modelport"]["environment"]["MODELPORT_REGISTRY_URI"]
    assert uri.startswith("postgresql+psycopg://") and "@postgres:5432/" in uri
    assert "${POSTGRES_PASSWORD" in uri
    # the driver is in the image: compose packages install the postgres extra
    assert re.search(r"^psycopg==", (packaged.out / "requirements.lock").read_text(), re.M)
