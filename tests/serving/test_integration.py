"""A real uvicorn server in a subprocess, driven by clients nobody here wrote."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from modelport import set_alias
from tests.serving.conftest import Models, RunningServer, start_server, stop_server

pytestmark = pytest.mark.integration


def test_tritonclient_named_inputs_binary_and_json(server: RunningServer, models: Models) -> None:
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("credit") and client.is_model_ready("numeric", "production")
    meta = client.get_model_metadata("credit")
    assert [i["name"] for i in meta["inputs"]] == ["age", "income", "home", "purpose"]

    frame = models.credit_test.head(5)
    inputs = []
    for spec in meta["inputs"]:
        column = frame[spec["name"]].to_numpy()
        array = column.astype(object) if spec["datatype"] == "BYTES" else column
        tensor = triton.InferInput(spec["name"], [len(frame)], spec["datatype"])
        tensor.set_data_from_numpy(array, binary_data=spec["name"] != "age")
        inputs.append(tensor)
    result = client.infer("credit", inputs)  # no outputs named: all, as binary
    assert result.as_numpy("predict").tolist() == models.credit_model.predict(frame).tolist()
    assert np.allclose(result.as_numpy("predict_proba"), models.credit_model.predict_proba(frame))

    rows = models.X[:6]
    tensor = triton.InferInput("input", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=False)
    wanted = [triton.InferRequestedOutput("predict", binary_data=False)]
    result = client.infer("numeric", [tensor], model_version="production", outputs=wanted)
    assert result.as_numpy("predict").tolist() == models.numeric_v1.predict(rows).tolist()
    assert result.as_numpy("predict_proba") is None
    assert result.get_response()["model_version"] == "1"

    bad = triton.InferInput("incme", [1], "FP64")
    bad.set_data_from_numpy(np.array([1.0]))
    with pytest.raises(InferenceServerException, match="incme"):
        client.infer("credit", [bad])
    with pytest.raises(InferenceServerException, match="not served"):
        client.infer("numeric", [tensor], model_version="9")
    client.close()


def test_v1_rows_records_columns(server: RunningServer, models: Models) -> None:
    frame = models.credit_test.head(4)
    expected = models.credit_model.predict(frame).tolist()
    with httpx.Client(base_url=server.url) as c:
        rows = frame.to_numpy().tolist()
        records = frame.to_dict(orient="records")
        columns = frame.to_dict(orient="list")
        for body in ({"instances": rows}, {"instances": records}, {"inputs": columns}):
            r = c.post("/v1/models/credit%40production:predict", json=body)
            assert r.json()["predictions"] == expected, r.text
        r = c.post("/v1/models/numeric:1:predict", json={"instances": models.X[:3].tolist()})
        assert r.json()["predictions"] == models.numeric_v1.predict(models.X[:3]).tolist()


def test_every_kind_of_bad_input_is_a_clear_4xx(server: RunningServer, models: Models) -> None:
    good = models.credit_test.head(1).to_dict(orient="records")[0]
    cases = [
        ({**good, "incme": 1}, 422, "incme"),
        ({k: v for k, v in good.items() if k != "age"}, 422, "age"),
        ({**good, "age": "old"}, 422, "age"),
        ({**good, "purpose": "yacht"}, 422, "purpose"),
        ({**good, "income": None}, 422, "income"),
    ]
    with httpx.Client(base_url=server.url) as c:
        for record, status, field in cases:
            r = c.post("/v1/models/credit:predict", json={"instances": [record]})
            assert r.status_code == status and field in r.text, r.text
            assert any(p["field"] == field for p in r.json()["problems"])
        raw = [
            ("/v1/models/credit:predict", b'{"instances": [{"age": 1', 400),
            ("/v1/models/numeric:predict", b'{"instances": [[1, 2, 3]]}', 422),
            ("/v1/models/numeric:predict", b'{"instances": [[1,2,3,4]]}' + b" " * 100_001, 413),
            ("/v1/models/ghost:predict", b'{"instances": [[1]]}', 404),
            ("/v1/models/numeric:8:predict", b'{"instances": [[1, 2, 3, 4]]}', 404),
            ("/v2/models/numeric/versions/8/infer", b'{"inputs": []}', 404),
        ]
        for path, body, status in raw:
            r = c.post(path, content=body)
            assert r.status_code == status, (path, r.text)
            assert r.json()["error"]

        def chunks():  # no Content-Length: the streamed body is what hits the limit
            for _ in range(30):
                yield b" " * 5000

        r = c.post("/v1/models/numeric:predict", content=chunks())
        assert r.status_code == 413
        r = c.post("/v1/models/credit:predict", json={"instances": [good]})
        assert r.status_code == 200


async def _hammer(url: str, path: str, rows: np.ndarray, clients: int) -> list[tuple[int, object]]:
    """``clients`` concurrent connections, each sending its share of rows one by one."""
    results: list[tuple[int, object]] = [(0, None)] * len(rows)

    async def worker(start: int, client: httpx.AsyncClient) -> None:
        for i in range(start, len(rows), clients):
            r = await client.post(path, json={"instances": [rows[i].tolist()]})
            results[i] = (r.status_code, r.json().get("predictions", r.text))

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(k, client) for k in range(clients)))
    return results


def test_concurrent_requests_get_their_own_rows_answer(  # 32 clients x 25 distinct rows
    server: RunningServer, models: Models
) -> None:
    rng = np.random.default_rng(5)
    rows = models.X[rng.choice(len(models.X), 32 * 25, replace=False)]
    results = asyncio.run(_hammer(server.url, "/v1/models/numeric:2:predict", rows, 32))
    expected = models.numeric_v2.predict(rows)
    assert all(status == 200 for status, _ in results)
    assert [p[0] for _, p in results] == expected.tolist()
    metrics = httpx.get(f"{server.url}/metrics").text
    sizes = [
        line
        for line in metrics.splitlines()
        if line.startswith('modelport_batch_size_bucket{le="1.0",model="numeric",version="2"}')
    ]
    batches_of_one = float(sizes[0].rsplit(" ", 1)[1])
    count_line = next(
        line
        for line in metrics.splitlines()
        if line.startswith('modelport_batch_size_count{model="numeric",version="2"}')
    )
    assert float(count_line.rsplit(" ", 1)[1]) > batches_of_one  # some batches held several


def test_alias_swap_under_load_fails_nothing(server: RunningServer, models: Models) -> None:
    set_alias("numeric:1", "swap", settings=models.settings)
    deadline = time.monotonic() + 20
    while httpx.get(f"{server.url}/v2/models/numeric/versions/swap/ready").status_code != 200:
        assert time.monotonic() < deadline, "new alias never served"
        time.sleep(0.05)
    stop = threading.Event()
    seen: list[tuple[int, str, int, int]] = []
    rows = models.X[:200]

    def client_loop(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            i = offset
            while not stop.is_set():
                row = rows[i % len(rows)]
                body = {
                    "inputs": [
                        {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": row.tolist()}
                    ]
                }
                r = c.post("/v2/models/numeric@swap/infer", json=body)
                doc = r.json()
                version = doc.get("model_version", "?")
                pred = doc["outputs"][0]["data"][0] if r.status_code == 200 else -1
                seen.append((r.status_code, version, i % len(rows), pred))
                i += 1

    threads = [threading.Thread(target=client_loop, args=(k * 17,)) for k in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    set_alias("numeric:2", "swap", settings=models.settings)
    deadline = time.monotonic() + 20
    while not any(v == "2" for _, v, _, _ in seen[-50:]) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert seen and all(status == 200 for status, _, _, _ in seen)
    versions = [v for _, v, _, _ in seen]
    assert versions[0] == "1" and versions[-1] == "2"
    by_version = {"1": models.numeric_v1.predict(rows), "2": models.numeric_v2.predict(rows)}
    assert all(pred == by_version[v][i] for _, v, i, pred in seen)


def test_sigterm_finishes_requests_in_flight_and_exits_zero(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> None:
    log = tmp_path_factory.mktemp("sigterm") / "server.log"
    running = start_server(
        models.settings.resolved_home(),
        log,
        "numeric:1",
        "--max-wait-ms",
        "3000",
        "--max-batch-size",
        "64",
    )
    statuses: list[int] = []

    def one(i: int) -> None:
        r = httpx.post(
            f"{running.url}/v1/models/numeric:1:predict",
            json={"instances": [models.X[i].tolist()]},
            timeout=30,
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    gauge = 'modelport_queue_depth{model="numeric",version="1"} 8.0'
    deadline = time.monotonic() + 30
    while gauge not in httpx.get(f"{running.url}/metrics").text:  # all 8 are in flight:
        assert time.monotonic() < deadline  # the batcher holds them for a fuller batch
        time.sleep(0.02)
    running.process.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert stop_server(running) == 0
    assert "Application shutdown complete" in log.read_text()
