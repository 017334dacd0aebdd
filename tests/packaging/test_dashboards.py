"""The shipped Grafana dashboards: well-formed, and naming only metrics modelport exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import modelport

GRAFANA = Path(modelport.__file__).parent / "packaging" / "grafana"
#: the metric names modelport defines (src/modelport/**.py), for the name check
SOURCES = Path(modelport.__file__).parent


def dashboards() -> list[Path]:
    return sorted(GRAFANA.glob("*.json"))


def panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in doc["panels"] if p["type"] != "row"]


def expressions(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of a dashboard."""
    return [(p["title"], t["expr"]) for p in panels(doc) for t in p["targets"]]


def exported_names() -> set[str]:
    names: set[str] = set()
    for path in SOURCES.rglob("*.py"):
        names |= set(re.findall(r'"(modelport_[a-z_]+)"', path.read_text()))
    return names


def test_there_are_dashboards_for_serving_deployments_and_monitoring() -> None:
    assert {p.name for p in dashboards()} == {
        "modelport-serving.json",
        "modelport-deployments.json",
        "modelport-monitoring.json",
    }


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_a_dashboard_is_importable_grafana_json(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["uid"] == path.stem and doc["title"].startswith("modelport: ")
    assert doc["schemaVersion"] >= 36
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    variables = {v["name"] for v in doc["templating"]["list"]}
    assert "datasource" in variables
    for panel in panels(doc):
        assert panel["title"] and panel["description"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, (panel["title"], used)


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_every_metric_a_panel_asks_for_is_one_modelport_exports(path: Path) -> None:
    exported = exported_names()
    suffixes = ("_total", "_bucket", "_sum", "_count")
    for title, expr in expressions(json.loads(path.read_text())):
        for name in re.findall(r"\b(modelport_[a-z_]+)", expr):
            base = next((name[: -len(s)] for s in suffixes if name.endswith(s)), name)
            assert name in exported or base in exported, (title, name)
