"""Every dashboard panel and every alert rule returns data from a real Prometheus.

A two-worker ``modelport serve`` (background monitor on, a deployment running a canary)
takes traffic; a real Prometheus (tests/prometheus_server.py) scrapes it every second
with the shipped rules loaded. Some panels and every alert have data only after an event,
which the test makes happen:

- 5xx errors, and the error-rate alert: a model that fails on some inputs (toy_models);
- the latency alert: the same model answering slowly on other inputs;
- drift, and its alert: traffic shifted away from the training data;
- live quality, and the quality-drop alert: feedback whose labels contradict the answers;
- canary state, and the rolled-back alert: a canary whose candidate is that failing model;
- alias moves: `production` of the failing model moved while the server runs;
- worker restarts, and their alert: one worker killed (the supervisor starts another).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.deployments.canary import CanaryThresholds
from modelport.registry import Registry
from modelport.services.canary import CanaryService
from modelport.settings import Settings
from tests.packaging.test_alert_rules import RULES
from tests.packaging.test_dashboards import dashboards, expressions
from tests.packaging.toy_models import FAIL_ABOVE, flaky
from tests.prometheus_server import PrometheusServer, Result
from tests.serving.conftest import RunningServer, start_server, stop_server
from tests.serving.test_workers_integration import scrape, wait_until, worker_pids

pytestmark = pytest.mark.integration

#: what the dashboards' variables stand for here
VARIABLES = {"$__rate_interval": "30s", "$model": ".+", "$deployment": ".+"}


@dataclass
class Scene:
    server: RunningServer
    settings: Settings
    X: np.ndarray


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("observability")
    settings = Settings(home=root / "home", user="tester")
    X, y = make_classification(
        n_samples=1000, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    modelport.register(LogisticRegression().fit(X, y), "numeric", sample=X, settings=settings)
    modelport.register(flaky, "flaky", sample=X, settings=settings)
    modelport.register(flaky, "flaky", sample=X, settings=settings)
    modelport.set_alias("numeric:1", "production", settings=settings)
    modelport.set_alias("flaky:1", "production", settings=settings)
    modelport.deploy("checkout", {"numeric@production": 100}, settings=settings)
    registry = Registry(settings)
    thresholds = CanaryThresholds(min_requests=30, min_latency_samples=20, min_predictions=20)
    CanaryService(registry).start("checkout", "flaky:1", (50.0, 100.0), 0.5, thresholds=thresholds)
    registry.close()
    server = start_server(
        settings.resolved_home(),
        root / "server.log",
        "numeric@production",
        "flaky@production",
        "--deployment",
        "checkout",
        "--workers",
        "2",
        "--poll-interval",
        "0.2",
        "--log-flush-interval",
        "0.2",
        "--monitor-interval",
        "1",
        "--monitor-window",
        "1h",
        "--no-access-log",
        env={"PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])},
    )
    wait_until(lambda: len(worker_pids(scrape(server)[1])) == 2, 120, "two workers alive")
    yield Scene(server, settings, X)
    stop_server(server)


class Traffic:
    """Requests in a thread until stopped: the rates stay above zero while we look."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.dropped = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        """Each round: numeric and the deployment on shifted rows; flaky failing one request
        in ten and slow one in twenty, so its error and slow shares stay above the alerts'
        thresholds however long the test runs."""
        url, rows = self.scene.server.url, (self.scene.X + 3.0).tolist()
        failing, slow = [FAIL_ABOVE + 1, 0.0, 0.0, 0.0], [-FAIL_ABOVE - 1, 0.0, 0.0, 0.0]
        with httpx.Client(timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                row = rows[i % len(rows)]
                flaky_row, flaky_status = row, 200
                if i % 10 == 0:
                    flaky_row, flaky_status = failing, 500
                elif i % 20 == 5:
                    flaky_row = slow
                calls = [
                    ("numeric@production", row, 200),
                    # the stable arm answers what the canary's candidate (flaky:1) fails
                    ("checkout", flaky_row, None),
                    ("flaky@production", flaky_row, flaky_status),
                ]
                for path, instance, expected in calls:
                    try:
                        reply = client.post(
                            f"{url}/v1/models/{path}:predict", json={"instances": [instance]}
                        )
                    except httpx.TransportError:
                        # the killed worker's connections drop: the next one reaches the other
                        self.dropped += 1
                        continue
                    if expected is not None and reply.status_code != expected:
                        self.errors.append(f"{path}: {reply.status_code} {reply.text}")
                i += 1
                self.stop.wait(0.02)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def post(scene: Scene, path: str, rows: list[list[float]]) -> httpx.Response:
    return httpx.post(
        f"{scene.server.url}/v1/models/{path}:predict", json={"instances": rows}, timeout=30
    )


def make_events(scene: Scene, prometheus: PrometheusServer) -> None:
    shifted = (scene.X + 3.0).tolist()
    # drift, and feedback that contradicts every answer (live accuracy 0)
    feedback = []
    for i in range(0, 300, 10):
        reply = post(scene, "numeric@production", shifted[i : i + 10])
        assert reply.status_code == 200, reply.text
        body = reply.json()
        feedback += [
            {"prediction_id": pid, "label": 1 - int(p)}
            for pid, p in zip(body["prediction_ids"], body["predictions"], strict=True)
        ]
    stored = httpx.post(f"{scene.server.url}/api/feedback", json=feedback, timeout=30)
    assert stored.status_code in (200, 201, 202), stored.text
    # errors (5xx) and slow answers of flaky, more than 5% and 1% of its requests
    for i in range(30):
        failing = post(scene, "flaky@production", [[FAIL_ABOVE + 1 + i, 0.0, 0.0, 0.0]])
        assert failing.status_code == 500, failing.text
    for _ in range(6):
        assert (
            post(scene, "flaky@production", [[-FAIL_ABOVE - 1, 0.0, 0.0, 0.0]]).status_code == 200
        )
    # the canary's candidate (flaky:1) fails where the stable arm answers: rolled back
    for _ in range(2000):
        post(scene, "checkout", [[FAIL_ABOVE + 5, 0.0, 0.0, 0.0]])
        if prometheus.query('modelport_canary_status{status="rolled_back"} == 1'):
            break
    # production of flaky moves to version 2: the server follows
    modelport.set_alias("flaky:2", "production", settings=scene.settings)
    # a worker dies once Prometheus has seen the restart counter at 0
    prometheus.wait_for("modelport_worker_restarts_total")
    victim = min(worker_pids(scrape(scene.server)[1]))
    os.kill(victim, signal.SIGKILL)


def has_data(result: Result) -> bool:
    """Non-empty, with at least one finite number (not only NaN of an empty rate)."""
    return any(math.isfinite(float(r["value"][1])) for r in result)


def panel_queries() -> list[tuple[str, str]]:
    queries = []
    for path in dashboards():
        for title, expr in expressions(json.loads(path.read_text())):
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            queries.append((f"{path.stem}: {title}", expr))
    return queries


def rule_queries() -> list[tuple[str, str]]:
    doc = yaml.safe_load(RULES.read_text())
    return [(r["alert"], r["expr"]) for g in doc["groups"] for r in g["rules"]]


def test_every_panel_and_every_rule_has_data(
    scene: Scene, prometheus: Callable[..., PrometheusServer]
) -> None:
    server = prometheus([f"127.0.0.1:{scene.server.port}"], [RULES])
    wait_until(server.targets_up, 60, "Prometheus scraping the server")
    with Traffic(scene) as traffic:
        make_events(scene, server)
        missing = []
        queries = [*panel_queries(), *rule_queries()]
        assert len(queries) == 39  # 33 panel queries, 6 rules: none skipped
        for what, expr in queries:
            try:
                server.wait_for(expr, has_data, timeout=120)
            except AssertionError as exc:
                missing.append(f"{what}: {exc}")
        assert not missing, "\n".join(missing)
        # and the alerts themselves, where the rule has no `for:` to wait out
        firing = server.wait_for('ALERTS{alertstate="firing"}', lambda r: len(r) >= 2)
        assert {"ModelportWorkerRestarts", "ModelportCanaryRolledBack"} <= {
            r["metric"]["alertname"] for r in firing
        }
    assert not traffic.errors, traffic.errors[:3]
    assert traffic.dropped <= 3  # only the connection the killed worker held
