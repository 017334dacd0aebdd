"""One host with everything: ``docker-compose.yaml`` and the files its services mount.

modelport (built from this context, read-only root filesystem), PostgreSQL holding the
registry, Prometheus scraping modelport and loading the shipped rules (``prometheus/``),
and Grafana with the shipped dashboards (``grafana/``) provisioned. The compose service
configuration lives under ``compose/``, apart from ``prometheus/*.yml`` (the rules).
The database password comes from ``.env`` (``POSTGRES_PASSWORD``), never from this file.
"""

from __future__ import annotations

from typing import Any

import yaml

from modelport.packaging.dockerfile import HOME, PORT
from modelport.packaging.kubernetes import KEYS_MOUNT

PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
POSTGRES_PORT = 5432
REGISTRY_URI = (
    "postgresql+psycopg://modelport:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
    f"@postgres:{POSTGRES_PORT}/modelport"
)


def compose_file(image: str, env: dict[str, str]) -> dict[str, Any]:
    modelport_env = {
        **env,
        "MODELPORT_REGISTRY_URI": REGISTRY_URI,
        # artifacts registered through this host go to the named volume
        "MODELPORT_ARTIFACT_URI": f"{HOME}/artifacts",
    }
    return {
        "name": "modelport",
        "services": {
            "postgres": {
                "image": "postgres:16-bookworm",
                "environment": {
                    "POSTGRES_USER": "modelport",
                    "POSTGRES_DB": "modelport",
                    "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}",
                },
                "volumes": ["postgres-data:/var/lib/postgresql/data"],
                "healthcheck": {
                    "test": ["CMD", "pg_isready", "-U", "modelport", "-d", "modelport"],
                    "interval": "5s",
                    "timeout": "3s",
                    "retries": 20,
                },
                "restart": "unless-stopped",
            },
            "modelport": {
                "build": {"context": "."},
                "image": image,
                "depends_on": {"postgres": {"condition": "service_healthy"}},
                "environment": modelport_env,
                "ports": [f"{PORT}:{PORT}"],
                "read_only": True,
                "tmpfs": ["/tmp"],
                "volumes": [
                    f"modelport-home:{HOME}",
                    f"./compose/api-keys:{KEYS_MOUNT}/api-keys:ro",
                ],
                "init": True,
                "stop_grace_period": "40s",
                "restart": "unless-stopped",
            },
            "prometheus": {
                "image": "prom/prometheus:v2.53.0",
                "command": [
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                ],
                "volumes": [
                    "./compose/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                    "./prometheus:/etc/prometheus/rules:ro",
                    "prometheus-data:/prometheus",
                ],
                "ports": [f"{PROMETHEUS_PORT}:{PROMETHEUS_PORT}"],
                "depends_on": ["modelport"],
                "restart": "unless-stopped",
            },
            "grafana": {
                "image": "grafana/grafana:11.1.0",
                "environment": {"GF_AUTH_ANONYMOUS_ENABLED": "false"},
                "volumes": [
                    "./compose/grafana/provisioning:/etc/grafana/provisioning:ro",
                    "./grafana:/var/lib/grafana/dashboards/modelport:ro",
                    "grafana-data:/var/lib/grafana",
                ],
                "ports": [f"{GRAFANA_PORT}:{GRAFANA_PORT}"],
                "depends_on": ["prometheus"],
                "restart": "unless-stopped",
            },
        },
        "volumes": {
            "postgres-data": {},
            "modelport-home": {},
            "prometheus-data": {},
            "grafana-data": {},
        },
    }


def prometheus_config() -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": ["/etc/prometheus/rules/*.yml"],
        "scrape_configs": [
            {
                "job_name": "modelport",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"modelport:{PORT}"]}],
            }
        ],
    }


def grafana_datasource() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": "prometheus",
                "type": "prometheus",
                "access": "proxy",
                "url": f"http://prometheus:{PROMETHEUS_PORT}",
                "isDefault": True,
            }
        ],
    }


def grafana_dashboards() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "modelport",
                "folder": "modelport",
                "type": "file",
                "disableDeletion": True,
                "options": {"path": "/var/lib/grafana/dashboards/modelport"},
            }
        ],
    }


_KEYS_PLACEHOLDER = (
    "# API keys this server accepts: one `ROLE[,ROLE] KEY` per line, e.g.\n"
    "#   predict mpk_<id>_<secret>\n"
    "# Make a key with: modelport keys create --role predict --json (never commit keys).\n"
)
_ENV_EXAMPLE = "# copy to .env and set a password of your own\nPOSTGRES_PASSWORD=change-me\n"


def files(image: str, env: dict[str, str]) -> dict[str, str]:
    """Relative path -> text of every file the compose setup needs."""

    def dump(data: dict[str, Any]) -> str:
        return "# Written by `modelport package --compose`.\n" + yaml.safe_dump(
            data, sort_keys=False
        )

    return {
        "docker-compose.yaml": dump(compose_file(image, env)),
        "compose/prometheus.yml": dump(prometheus_config()),
        "compose/grafana/provisioning/datasources/prometheus.yaml": dump(grafana_datasource()),
        "compose/grafana/provisioning/dashboards/modelport.yaml": dump(grafana_dashboards()),
        "compose/api-keys": _KEYS_PLACEHOLDER,
        ".env.example": _ENV_EXAMPLE,
    }
