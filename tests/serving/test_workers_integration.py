"""``--workers 2`` for real: one /metrics answer from any worker counts every request.

The server is ``python -m modelport.serving`` in a subprocess (a supervisor forking two
workers); a real Prometheus (tests/prometheus_server.py) scrapes it as well.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.prometheus_server import PrometheusServer
from tests.serving.conftest import (
    Models,
    RunningServer,
    free_port,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.integration

REQUESTS = 60


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of ``name`` in an exposition, by their sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_total(text: str) -> float:
    return sum(samples(text, "modelport_requests_total").values())


def scrape(server: RunningServer) -> tuple[str, str]:
    """(pid of the worker that answered, its /metrics text); a new connection each time."""
    reply = httpx.get(f"{server.url}/metrics", timeout=10)
    assert reply.status_code == 200
    return reply.headers["x-modelport-worker-pid"], reply.text


def worker_pids(text: str) -> set[int]:
    return {int(dict(k)["pid"]) for k in samples(text, "modelport_worker_open_fds")}


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not in {timeout}s: {what}")


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("metrics")
    (path / "counter_999999.db").write_bytes(b"left by an earlier server")
    return path


@pytest.fixture(scope="module")
def two_workers(
    models: Models, tmp_path_factory: pytest.TempPathFactory, metrics_dir: Path
) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("workers") / "server.log"
    running = start_server(
        models.settings.resolved_home(),
        log,
        "numeric@production",
        "--workers",
        "2",
        "--metrics-dir",
        str(metrics_dir),
        "--no-access-log",
    )
    # both workers have loaded their models and answer (each accepts only once ready)
    wait_until(lambda: len(worker_pids(scrape(running)[1])) == 2, 120, "two workers alive")
    yield running
    stop_server(running)


def predict(server: RunningServer, models: Models, n: int) -> None:
    for i in range(n):  # a new connection each: the kernel hands them to either worker
        reply = httpx.post(
            f"{server.url}/v1/models/numeric@production:predict",
            json={"instances": [models.X[i % 100].tolist()]},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text


def test_any_worker_reports_the_requests_of_all(two_workers: RunningServer, models: Models) -> None:
    before = requests_total(scrape(two_workers)[1])
    predict(two_workers, models, REQUESTS)
    answered: dict[str, float] = {}
    for _ in range(400):  # until both workers have answered a scrape, at least 6 scrapes
        pid, text = scrape(two_workers)
        total = requests_total(text)
        assert total == before + REQUESTS, f"worker {pid} reported {total}"
        answered[pid] = total
        if len(answered) == 2 and _ >= 5:
            break
    assert len(answered) == 2, "only one worker ever answered /metrics"
    text = scrape(two_workers)[1]
    # process numbers per worker, and the queue gauge summed over live workers
    assert len(worker_pids(text)) == 2
    assert samples(text, "modelport_workers")[()] == 2.0
    # no worker was restarted while the others loaded (nothing times a start-up out)
    assert samples(text, "modelport_worker_restarts_total")[()] == 0.0
    assert all(v > 0 for v in samples(text, "modelport_worker_resident_memory_bytes").values())
    assert samples(text, "modelport_queue_depth") == {(("model", "numeric"), ("version", "1")): 0.0}


def test_a_stale_file_of_an_earlier_server_is_not_counted(
    two_workers: RunningServer, metrics_dir: Path
) -> None:
    assert not (metrics_dir / "counter_999999.db").exists()
    assert list(metrics_dir.glob("counter_*.db"))  # the workers' own files are there


def test_a_killed_worker_is_replaced_and_its_requests_still_count(
    two_workers: RunningServer, models: Models
) -> None:
    predict(two_workers, models, 10)
    text = scrape(two_workers)[1]
    total = requests_total(text)
    victim = min(worker_pids(text))
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        latest = scrape(two_workers)[1]
        pids = worker_pids(latest)
        return len(pids) == 2 and victim not in pids

    wait_until(replaced, 120, "the killed worker replaced")
    text = scrape(two_workers)[1]
    assert samples(text, "modelport_worker_restarts_total")[()] == 1.0
    assert requests_total(text) == total  # the dead worker's counts stay in the sum


def test_prometheus_sees_every_request(
    two_workers: RunningServer,
    models: Models,
    prometheus: Callable[..., PrometheusServer],
) -> None:
    server = prometheus([f"127.0.0.1:{two_workers.port}"])
    wait_until(server.targets_up, 60, "Prometheus scraping the server")
    expected = requests_total(scrape(two_workers)[1]) + REQUESTS
    predict(two_workers, models, REQUESTS)
    result = server.wait_for(
        "sum(modelport_requests_total)",
        lambda r: bool(r) and float(r[0]["value"][1]) == expected,
    )
    assert float(result[0]["value"][1]) == expected


def test_sigterm_stops_every_worker_and_cleans_the_directory(
    models: Models, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics"
    running = start_server(
        models.settings.resolved_home(),
        tmp_path / "server.log",
        "numeric@production",
        "--workers",
        "2",
        "--metrics-dir",
        str(metrics),
        "--no-access-log",
    )
    predict(running, models, 4)
    pids = worker_pids(scrape(running)[1])
    assert stop_server(running) == 0
    assert not list(metrics.glob("*.db")) and not (metrics / "workers").exists()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_that_cannot_start_stops_the_server_with_status_3(tmp_path: Path) -> None:
    """No restart loop: a model that cannot load would fail every new worker the same way."""
    import subprocess
    import sys

    import numpy as np

    import modelport
    from modelport.settings import Settings
    from tests.packaging.toy_models import flaky

    settings = Settings(home=tmp_path / "home", user="tester")
    modelport.register(flaky, "flaky", sample=np.zeros((4, 4)), settings=settings)
    src = Path(modelport.__file__).parents[1]
    # run from elsewhere: the worker cannot import tests.packaging.toy_models to load it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    argv = ["flaky", "--workers", "2", "--no-auth", "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "modelport.serving", *argv],
        cwd=elsewhere,
        env={**os.environ, "MODELPORT_HOME": str(settings.home), "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not start: stopping the server" in done.stderr
    assert "starting it again" not in done.stderr
