"""One client's input that the model cannot take fails that client's request only.

The model is a real served version (the python flavor) that raises on any batch holding a
poison value, as a library does on a value it refuses. Concurrent requests are batched
together with the poison ones; every valid request must still get its own right answer.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import numpy as np
import pytest

import modelport
from modelport.errors import PredictionError
from modelport.loaded import load_model
from modelport.registry import Registry
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ServedVersion
from modelport.serving import ServeConfig
from modelport.settings import Settings
from tests.serving.conftest import start_server, stop_server

WEIGHTS = np.array([0.5, -1.0, 2.0, 0.25])
POISON = -999.0
ROOT = Path(__file__).resolve().parents[2]


def poisoned_linear(batch: np.ndarray) -> np.ndarray:
    """A linear model that refuses the whole call when any row holds the poison value."""
    values = np.asarray(batch, dtype=np.float64)
    if (values == POISON).any():
        raise ValueError(f"input contains the value {POISON}, which this model refuses")
    return values @ WEIGHTS


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("isolation") / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(200, 4))
    modelport.register(poisoned_linear, "poison", sample=sample, settings=settings)
    return settings


def requests(clients: int, per_client: int, seed: int) -> list[list[np.ndarray]]:
    """Distinct rows for each client's requests (1 to 4 rows each); client 0 is poisoned."""
    rng = np.random.default_rng(seed)
    plan = [
        [rng.normal(size=(int(rng.integers(1, 5)), 4)) for _ in range(per_client)]
        for _ in range(clients)
    ]
    for rows in plan[0]:
        rows[-1, 2] = POISON
    return plan


def test_a_poison_request_fails_alone_in_a_batch_of_valid_ones(settings: Settings) -> None:
    registry = Registry(settings)
    metrics = Metrics()
    served = ServedVersion(load_model(registry, "poison"), ServeConfig(), metrics)
    plan = requests(clients=24, per_client=8, seed=1)

    async def client(rows_list: list[np.ndarray]) -> list[object]:
        answers: list[object] = []
        for rows in rows_list:
            try:
                predictions, _ = await served.predict(served.prepare(rows.tolist()))
                answers.append(predictions)
            except PredictionError as exc:
                answers.append(exc)
            await asyncio.sleep(0)  # come back one turn later, as over a network
        return answers

    async def main() -> list[list[object]]:
        try:
            return list(await asyncio.gather(*(client(rows) for rows in plan)))
        finally:
            await served.batcher.aclose()

    answers = asyncio.run(main())
    registry.close()
    for k, (rows_list, got) in enumerate(zip(plan, answers, strict=True)):
        for rows, answer in zip(rows_list, got, strict=True):
            if k == 0:
                assert isinstance(answer, PredictionError)
                assert "refuses" in str(answer)
            else:
                assert isinstance(answer, np.ndarray), answer
                np.testing.assert_allclose(answer, rows @ WEIGHTS, rtol=1e-12)
    labels = {"model": "poison", "version": "1"}
    batches = metrics.registry.get_sample_value("modelport_batch_size_count", labels)
    bucket = {**labels, "le": "1.0"}
    alone = metrics.registry.get_sample_value("modelport_batch_size_bucket", bucket)
    assert batches is not None and alone is not None
    assert batches > alone  # requests really were batched together


@pytest.mark.integration
def test_concurrent_clients_one_poisoned_every_valid_request_answered(
    settings: Settings, tmp_path: Path
) -> None:
    # the server imports the model function from this test module by name
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    server = start_server(
        settings.resolved_home(),
        tmp_path / "server.log",
        "poison",
        "--max-wait-ms",
        "2",
        env={"PYTHONPATH": path},
    )
    plan = requests(clients=16, per_client=12, seed=2)

    async def client(rows_list: list[np.ndarray], http: httpx.AsyncClient) -> list[object]:
        answers: list[object] = []
        for rows in rows_list:
            r = await http.post("/v1/models/poison:predict", json={"instances": rows.tolist()})
            answers.append((r.status_code, r.json()))
        return answers

    async def main() -> list[list[object]]:
        limits = httpx.Limits(max_connections=len(plan))
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
            return list(await asyncio.gather(*(client(rows, http) for rows in plan)))

    try:
        answers = asyncio.run(main())
        metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        stop_server(server)
    for k, (rows_list, got) in enumerate(zip(plan, answers, strict=True)):
        for rows, (status, body) in zip(rows_list, got, strict=True):
            if k == 0:
                assert status == 500 and body["code"] == "prediction_failed", body
                assert "refuses" in body["error"]  # V1's error shape: the message, a code
            else:
                assert status == 200, body
                np.testing.assert_allclose(body["predictions"], rows @ WEIGHTS, rtol=1e-12)
    count = next(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('modelport_batch_size_count{model="poison"')
    )
    alone = next(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('modelport_batch_size_bucket{le="1.0",model="poison"')
    )
    assert count > alone  # some batches held several requests
