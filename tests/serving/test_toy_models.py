"""Toy models (one that raises, one that is slow, one that echoes) on the server's error paths.

A model that fails answers a clear 500 naming the model and what it raised, never a traceback;
a version whose queue is full answers 503 with the JSON error shape, and the requests already
queued still get their answers once the model is free again.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.reference import parse
from modelport.serving import BatchConfig, ServeConfig, create_app
from modelport.settings import Settings

#: the slow model waits for this; it is open while the model is registered
GATE = threading.Event()
GATE.set()
#: set by the slow model when a call has started (so a test knows the batcher is busy)
STARTED = threading.Event()
#: the raising model raises once this is set (registration runs it on the sample first)
FAIL = threading.Event()


def raising(batch: np.ndarray) -> np.ndarray:
    if FAIL.is_set():
        raise RuntimeError("the toy model always fails")
    return np.asarray(batch, dtype=np.float64)[:, 0]


def slow(batch: np.ndarray) -> np.ndarray:
    STARTED.set()
    if not GATE.wait(timeout=120):  # a bound so a broken test cannot hang the suite
        raise TimeoutError("the gate was never opened")
    return np.asarray(batch, dtype=np.float64)[:, 0]


def echo(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path_factory.mktemp("toys") / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(50, 3))
    modelport.register(echo, "echo", sample=sample, settings=settings)
    modelport.register(slow, "slow", sample=sample, settings=settings)
    modelport.register(raising, "raising", sample=sample, settings=settings)
    config = ServeConfig(
        auth=False, model_batch={"slow": BatchConfig(max_batch_size=1, max_queue=2)}
    )
    app = create_app(config, settings=settings)
    with TestClient(app, raise_server_exceptions=False) as c:
        FAIL.set()  # after the server's warm-up call
        yield c


def test_the_echo_answers_its_input(client: TestClient) -> None:
    r = client.post("/v1/models/echo:predict", json={"instances": [[1.5, 0, 0], [-2, 0, 0]]})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == [1.5, -2.0]


def test_a_model_that_raises_is_a_clear_500_naming_the_model(client: TestClient) -> None:
    for path, body in [
        ("/v1/models/raising:predict", {"instances": [[1, 2, 3]]}),
        (
            "/v2/models/raising/infer",
            {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
        ),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == 500, r.text
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert "raising" in error and "the toy model always fails" in error
        assert "Traceback" not in r.text and 'File "' not in r.text


def test_a_full_queue_is_a_503_and_the_queued_requests_still_answer(client: TestClient) -> None:
    served = client.app.state.pool.route(parse("slow"))  # type: ignore[attr-defined]
    GATE.clear()
    STARTED.clear()
    body = {"instances": [[7.0, 0, 0]]}
    with ThreadPoolExecutor(max_workers=3) as pool:
        try:
            running = pool.submit(client.post, "/v1/models/slow:predict", json=body)
            assert STARTED.wait(timeout=60), "the slow model never started"
            queued = [pool.submit(client.post, "/v1/models/slow:predict", json=body) for _ in "ab"]
            _wait_for(lambda: served.batcher.depth == 2)  # the queue (2) is full
            refused = client.post("/v1/models/slow:predict", json=body)
        finally:
            GATE.set()
        answers = [running.result(timeout=60)] + [f.result(timeout=60) for f in queued]
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    assert "slow" in refused.json()["error"]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.json()["predictions"] == [7.0] for a in answers)


def _wait_for(condition: Callable[[], bool]) -> None:
    """Wait for a condition (the requests reach the queue in their own threads)."""
    for _ in range(12_000):
        if condition():
            return
        threading.Event().wait(0.005)
    raise AssertionError("the condition never held")
