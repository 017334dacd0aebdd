"""Three ``modelport serve`` processes on one PostgreSQL registry, behind nginx.

Every replica is the real CLI in its own process with its own home; they share the
registry (PostgreSQL) and the artifact store (one directory), as replicas on several
machines would. The load balancer is Debian's nginx running the shipped example
configuration (deploy/nginx/modelport.conf).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.registry import Registry
from modelport.settings import Settings
from tests.serving.conftest import free_port
from tests.serving.load_balancer import LoadBalancer, nginx_binary, start_nginx

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
POLL = 0.5  # --poll-interval of every replica
ROWS = [[0.1, -0.2, 0.3, 0.4]]


@dataclass
class Replica:
    """One ``modelport serve`` process; restartable on the same port."""

    home: Path
    port: int
    env: dict[str, str]
    args: tuple[str, ...]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> None:
        """Start the CLI and return once /v2/health/ready answers 200."""
        self.starts += 1
        out = (self.home / f"serve-{self.starts}.log").open("wb")
        argv = [sys.executable, "-m", "modelport", "serve", *self.args]
        argv += ["--port", str(self.port)]
        self.process = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica exited {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.process.kill()
        raise RuntimeError(f"replica not ready in {timeout}s: {self.log()}")

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit status (killed if it does not stop in ``timeout``)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def log(self) -> str:
        return (self.home / f"serve-{self.starts}.log").read_text(errors="replace")


@dataclass
class Cluster:
    settings: Settings  # the operator's: same registry and artifact store as the replicas
    replicas: list[Replica]
    balancer: LoadBalancer


@pytest.fixture(scope="module")
def cluster(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    nginx_binary()  # skip before starting anything when nginx is missing
    import psycopg

    root = tmp_path_factory.mktemp("replicas")
    with psycopg.connect(
        f"{postgres_server.replace('+psycopg', '')}/postgres", autocommit=True
    ) as conn:
        conn.execute('CREATE DATABASE "replicas"')
    shared = {
        "MODELPORT_REGISTRY_URI": f"{postgres_server}/replicas",
        "MODELPORT_ARTIFACT_URI": str(root / "artifacts"),
    }
    settings = Settings(
        home=root / "operator",
        registry_uri=shared["MODELPORT_REGISTRY_URI"],
        artifact_uri=shared["MODELPORT_ARTIFACT_URI"],
        user="operator",
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    for c in (1.0, 0.01):
        model = LogisticRegression(C=c).fit(X, y)
        modelport.register(model, "numeric", sample=X, settings=settings)
    modelport.set_alias("numeric:1", "production", settings=settings)
    modelport.deploy("checkout", {"numeric:1": 100}, settings=settings)

    args = ("numeric@production", "--deployment", "checkout", "--host", "127.0.0.1", "--no-auth")
    args += ("--poll-interval", str(POLL), "--no-access-log", "--log-flush-interval", "0.5")
    replicas = []
    for i in range(3):
        home = root / f"replica-{i}"
        home.mkdir()
        env = {**os.environ, "MODELPORT_HOME": str(home), **shared}
        replicas.append(Replica(home, free_port(), env, args))
    balancer: LoadBalancer | None = None
    try:
        for replica in replicas:  # one after the other: two cores, and imports are heavy
            replica.start()
        balancer = start_nginx(root / "nginx", [r.port for r in replicas], free_port())
        yield Cluster(settings, replicas, balancer)
    finally:
        if balancer is not None:
            balancer.stop()
        for replica in replicas:
            if replica.process is not None and replica.process.poll() is None:
                replica.terminate()


def answering_version(url: str, model: str) -> str:
    r = httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": ROWS}, timeout=30)
    assert r.status_code == 200, r.text
    return r.headers["x-model-version"]


def wait_everywhere(cluster: Cluster, model: str, version: str, deadline: float = 60.0) -> float:
    """Poll every replica directly until all answer ``model`` with ``version``; seconds taken."""
    t0 = time.monotonic()
    pending = list(cluster.replicas)
    while pending:
        pending = [r for r in pending if answering_version(r.url, model) != version]
        if pending and time.monotonic() - t0 > deadline:
            raise AssertionError(
                f"{[r.port for r in pending]} still not on {version} after {deadline}s"
            )
        if pending:
            time.sleep(0.05)
    return time.monotonic() - t0


def test_alias_moves_and_deployment_changes_reach_every_replica(cluster: Cluster) -> None:
    for replica in cluster.replicas:
        assert answering_version(replica.url, "numeric@production") == "numeric:1"
        assert answering_version(replica.url, "checkout") == "numeric:1"
    registry = Registry(cluster.settings)
    try:
        registry.promote("numeric:2", "production", reason="replica test")
        promoted = wait_everywhere(cluster, "numeric@production", "numeric:2")
        registry.rollback("numeric", "production", reason="replica test")
        rolled_back = wait_everywhere(cluster, "numeric@production", "numeric:1")
    finally:
        registry.close()
    modelport.deploy("checkout", {"numeric:2": 100}, settings=cluster.settings)
    redeployed = wait_everywhere(cluster, "checkout", "numeric:2")
    # the figures, for the report: each is the poll interval plus a load when it was new
    print(f"promote {promoted:.2f}s, rollback {rolled_back:.2f}s, deploy {redeployed:.2f}s")
    # and through the balancer, whichever replica answers
    assert {answering_version(cluster.balancer.url, "checkout") for _ in range(9)} == {"numeric:2"}


@dataclass
class Load:
    """Threads sending predictions through the balancer until stopped; every answer kept."""

    url: str
    threads: int = 3
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for i in range(self.threads):
            worker = threading.Thread(target=self._run, args=(i,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def _run(self, index: int) -> None:
        v1 = {"instances": ROWS}
        v2 = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": ROWS}]}
        with httpx.Client(base_url=self.url, timeout=60) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                try:
                    if (n + index) % 2:
                        r = client.post("/v1/models/numeric@production:predict", json=v1)
                    else:
                        r = client.post("/v2/models/checkout/infer", json=v2)
                    status, detail = r.status_code, r.text[:200]
                except httpx.HTTPError as exc:
                    status, detail = -1, repr(exc)
                with self._lock:
                    self.statuses[status] += 1
                    if status != 200:
                        self.errors.append(f"{status} {detail}")

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.statuses.values())

    def wait_for(self, more: int, timeout: float = 120.0) -> None:
        """Until ``more`` further requests were answered (however they were answered)."""
        target = self.total + more
        deadline = time.monotonic() + timeout
        while self.total < target:
            assert time.monotonic() < deadline, f"load stalled at {self.total} requests"
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=90)


def test_rolling_restart_under_load_fails_no_request(cluster: Cluster) -> None:
    load = Load(cluster.balancer.url)
    load.start()
    try:
        load.wait_for(200)
        for replica in cluster.replicas:
            assert replica.terminate() == 0, replica.log()
            load.wait_for(100)  # the others carry the traffic meanwhile
            replica.start()
            load.wait_for(200)
    finally:
        load.stop()
    assert load.errors == [], f"{len(load.errors)} failed of {load.total}: {load.errors[:5]}"
    assert load.statuses[200] >= 1000
    lines = cluster.balancer.access_log.read_text().splitlines()
    retried = [line for line in lines if "upstream=" in line and ", " in line.split("upstream=")[1]]
    served_by = Counter(
        line.split("upstream=")[1].split()[0].rsplit(", ", 1)[-1]
        for line in lines
        if " 200 " in line
    )
    # every replica answered traffic, the restarted ones too
    assert set(served_by) >= {f"127.0.0.1:{r.port}" for r in cluster.replicas}, served_by
    print(f"{load.statuses[200]} requests, 0 failed, {len(retried)} passed to another replica")
