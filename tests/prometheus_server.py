"""A real Prometheus server for the tests, started from the machine's binary.

Debian's ``prometheus`` package (``apt-get install prometheus``; .ci/run installs it).
Each server gets a free port and a temporary config and data directory, scrapes its
targets every second and evaluates its rule files every second. Without the binary the
tests that need it are skipped with the reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

Result = list[dict[str, Any]]


def binary(name: str = "prometheus") -> str:
    """The path of ``name`` (prometheus, promtool), or the test is skipped saying why."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (Debian package: apt-get install prometheus)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    root: Path

    def query(self, expr: str) -> Result:
        """An instant query; its result vector (empty when the expression has no data)."""
        reply = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = reply.json()
        if body.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {body}")
        result: Result = body["data"]["result"]
        return result

    def wait_for(
        self, expr: str, done: Callable[[Result], bool] = bool, timeout: float = 60.0
    ) -> Result:
        """Query ``expr`` until ``done(result)`` holds; fail with the last result if never."""
        deadline = time.monotonic() + timeout
        result: Result = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if done(result):
                return result
            time.sleep(0.25)
        raise AssertionError(f"{expr!r} never met the condition in {timeout}s: {result}")

    def targets_up(self) -> bool:
        targets = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()
        active = targets["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def log(self) -> str:
        return (self.root / "prometheus.log").read_text(errors="replace")


def start_prometheus(
    targets: Sequence[str], rule_files: Sequence[Path] = (), timeout: float = 60.0
) -> PrometheusServer:
    """Prometheus scraping ``targets`` (host:port) every second, with ``rule_files``."""
    root = Path(tempfile.mkdtemp(prefix="modelport-prometheus-"))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": "modelport", "static_configs": [{"targets": list(targets)}]}
        ],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = (root / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary(),
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, root)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited {process.returncode}: {server.log()}")
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_prometheus(server)
    raise RuntimeError(f"prometheus not ready in {timeout}s: {server.log()}")


def stop_prometheus(server: PrometheusServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def prometheus() -> Iterator[Callable[..., PrometheusServer]]:
    """``prometheus(targets, rule_files=())`` starts a server, stopped after the test."""
    started: list[PrometheusServer] = []

    def start(targets: Sequence[str], rule_files: Sequence[Path] = ()) -> PrometheusServer:
        server = start_prometheus(targets, rule_files)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_prometheus(server)
