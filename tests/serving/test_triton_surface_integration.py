"""Triton's HTTP extensions and KServe V1 liveness against a real server, with tritonclient.

The server runs as ``modelport serve numeric@production`` does, with authentication on:
an admin key loads and unloads, a read key reads the index, configs and statistics and is
refused loading. ``numeric`` is served only as ``numeric@production``, so the bare name
``numeric`` reaches it. ``credit`` is registered but not served until it is loaded.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from modelport.registry import Registry
from tests.serving.conftest import Models, RunningServer, start_server, stop_server

pytestmark = pytest.mark.integration


class Keys:
    """Fresh header dicts each time: tritonclient adds Content-Encoding to the one it gets."""

    def __init__(self, admin: str, read: str) -> None:
        self._admin, self._read = admin, read

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._admin}"}

    @property
    def read(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._read}"}

    predict = admin


@pytest.fixture(scope="module")
def surface(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Keys]]:
    registry = Registry(models.settings)
    _, admin = registry.keys.create(["admin"], description="triton surface: admin")
    _, read = registry.keys.create(["read"], description="triton surface: read")
    registry.close()
    log = tmp_path_factory.mktemp("triton-surface") / "server.log"
    running = start_server(
        models.settings.resolved_home(),
        log,
        "numeric@production",
        "--auth",
        "--max-body-bytes",
        "100000",
        "--poll-interval",
        "0.2",
    )
    yield running, Keys(admin, read)
    stop_server(running)


@pytest.fixture
def client(surface: tuple[RunningServer, Keys]) -> Iterator[triton.InferenceServerClient]:
    server, _ = surface
    c = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    yield c
    c.close()


def _rows(models: Models, n: int) -> triton.InferInput:
    rows = models.X[:n]
    tensor = triton.InferInput("input", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=False)
    return tensor


def test_kserve_v1_liveness_needs_no_key(surface: tuple[RunningServer, Keys]) -> None:
    server, _ = surface
    r = httpx.get(f"{server.url}/")  # what the kserve SDK's V1 is_server_live calls
    assert r.status_code == 200 and r.json() == {"status": "alive"}
    assert httpx.get(f"{server.url}/v2/models/stats").status_code == 401  # the rest needs one


def test_get_model_config_from_the_signature(
    surface: tuple[RunningServer, Keys], client: triton.InferenceServerClient
) -> None:
    _, keys = surface
    config = client.get_model_config("numeric", headers=keys.read)
    assert config["name"] == "numeric" and config["backend"] == "modelport"
    assert config["max_batch_size"] == 100_000
    assert [t["data_type"] for t in config["input"]] == ["TYPE_FP64"] * 4
    assert {t["name"]: t["dims"] for t in config["output"]} == {
        "predict": [1],
        "predict_proba": [2],
    }
    assert config["parameters"]["modelport_version"]["string_value"] == "1"
    version = client.get_model_config("numeric", "production", headers=keys.read)
    assert version["parameters"]["modelport_version"]["string_value"] == "1"
    with pytest.raises(InferenceServerException, match="not served"):
        client.get_model_config("numeric", "7", headers=keys.read)


def test_bare_name_infer_and_statistics(
    surface: tuple[RunningServer, Keys], client: triton.InferenceServerClient, models: Models
) -> None:
    _, keys = surface
    before = client.get_inference_statistics("numeric", headers=keys.read)["model_stats"]
    assert [(s["name"], s["version"]) for s in before] == [("numeric", "1")]
    for _ in range(3):
        result = client.infer("numeric", [_rows(models, 4)], headers=keys.predict)
        assert (
            result.as_numpy("predict").tolist() == models.numeric_v1.predict(models.X[:4]).tolist()
        )
        assert result.get_response()["model_version"] == "1"
    after = client.get_inference_statistics("numeric", "1", headers=keys.read)["model_stats"]
    (entry,) = after
    assert entry["inference_count"] - before[0]["inference_count"] == 12
    success, previous = entry["inference_stats"]["success"], before[0]["inference_stats"]["success"]
    assert success["count"] - previous["count"] == 3 and success["ns"] > previous["ns"]
    assert entry["execution_count"] >= before[0]["execution_count"] + 1
    everything = client.get_inference_statistics(headers=keys.read)["model_stats"]
    assert {(s["name"], s["version"]) for s in everything} >= {("numeric", "1")}
    # V1 with the bare name, too
    r = httpx.post(
        f"{surface[0].url}/v1/models/numeric:predict",
        json={"instances": models.X[:2].tolist()},
        headers=keys.predict,
    )
    assert r.status_code == 200 and r.headers["x-model-version"] == "numeric:1"


def test_gzip_and_deflate_requests(
    surface: tuple[RunningServer, Keys], client: triton.InferenceServerClient, models: Models
) -> None:
    server, keys = surface
    for algorithm in ("gzip", "deflate"):
        result = client.infer(
            "numeric",
            [_rows(models, 5)],
            headers=keys.predict,
            request_compression_algorithm=algorithm,
        )
        assert (
            result.as_numpy("predict").tolist() == models.numeric_v1.predict(models.X[:5]).tolist()
        )
    bomb = gzip.compress(b" " * 20_000_000)  # ~20 KB on the wire; the limit is 100 KB
    r = httpx.post(
        f"{server.url}/v2/models/numeric/infer",
        content=bomb,
        headers={**keys.predict, "Content-Encoding": "gzip"},
    )
    assert r.status_code == 413 and "decompression" in r.json()["error"]
    r = httpx.post(
        f"{server.url}/v2/models/numeric/infer",
        content=b"\x1f\x8b not really gzip",
        headers={**keys.predict, "Content-Encoding": "gzip"},
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument"
    r = httpx.post(
        f"{server.url}/v2/models/numeric/infer",
        content=json.dumps({"inputs": []}).encode(),
        headers={**keys.predict, "Content-Encoding": "br"},
    )
    assert r.status_code == 415


def test_repository_index_load_and_unload(
    surface: tuple[RunningServer, Keys], client: triton.InferenceServerClient, models: Models
) -> None:
    _, keys = surface
    index = client.get_model_repository_index(headers=keys.read)
    states = {(e["name"], e["version"], e["state"]) for e in index}
    assert states == {("numeric", "1", "READY"), ("credit", "", "UNAVAILABLE")}
    assert all("reason" in e for e in index)

    with pytest.raises(InferenceServerException, match="admin"):
        client.load_model("credit", headers=keys.read)
    assert not client.is_model_ready("credit", headers=keys.read)

    client.load_model("credit", headers=keys.admin)
    assert client.is_model_ready("credit", headers=keys.read)
    frame = models.credit_test.head(3)
    meta = client.get_model_metadata("credit", headers=keys.read)
    inputs = []
    for spec in meta["inputs"]:
        column = frame[spec["name"]].to_numpy()
        array = column.astype(object) if spec["datatype"] == "BYTES" else column
        tensor = triton.InferInput(spec["name"], [len(frame)], spec["datatype"])
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer("credit", inputs, headers=keys.predict)
    assert result.as_numpy("predict").tolist() == models.credit_model.predict(frame).tolist()  # type: ignore[attr-defined]
    config = client.get_model_config("credit", headers=keys.read)
    assert [t["name"] for t in config["input"]] == ["age", "income", "home", "purpose"]
    assert ("credit", "1", "READY") in {
        (e["name"], e["version"], e["state"])
        for e in client.get_model_repository_index(headers=keys.read)
    }

    with pytest.raises(InferenceServerException, match="admin"):
        client.unload_model("credit", headers=keys.read)
    client.unload_model("credit", headers=keys.admin)
    assert not client.is_model_ready("credit", headers=keys.read)
    with pytest.raises(InferenceServerException, match="not served"):
        client.infer("credit", inputs, headers=keys.predict)

    with pytest.raises(InferenceServerException, match="no model named 'nope'"):
        client.load_model("nope", headers=keys.admin)
    with pytest.raises(InferenceServerException, match="not served"):
        client.unload_model("credit", headers=keys.admin)
    with pytest.raises(InferenceServerException, match="config"):
        client.load_model("credit", headers=keys.admin, config=json.dumps({"backend": "onnx"}))
    assert client.is_model_ready("numeric", headers=keys.read)  # untouched throughout
    assert np.all(
        client.infer("numeric", [_rows(models, 1)], headers=keys.predict).as_numpy("predict") >= 0
    )
