"""A real ``python -m modelport.serving ... --grpc-port`` process, driven by tritonclient's
gRPC client unmodified: health, metadata, every input datatype, a deployment, credentials,
bad input, and a clean stop. (The kserve SDK is not installed here, so its client is not
exercised; it speaks the same proto.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

import modelport
from modelport.registry import Registry
from modelport.settings import Settings
from tests.serving.conftest import Models, RunningServer, free_port, start_server, stop_server

pytestmark = pytest.mark.integration


def _input(name: str, array: np.ndarray, datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


@pytest.fixture(scope="module")
def grpc_server(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, triton.InferenceServerClient]]:
    port = free_port()
    log = tmp_path_factory.mktemp("grpc-server") / "server.log"
    server = start_server(models.settings.resolved_home(), log, "--grpc-port", str(port))
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    yield server, client
    client.close()
    assert stop_server(server) == 0, log.read_text()


def test_health_and_metadata(
    grpc_server: tuple[RunningServer, triton.InferenceServerClient],
) -> None:
    _, client = grpc_server
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("credit")
    assert client.is_model_ready("numeric", "1")
    assert not client.is_model_ready("nope")
    assert client.get_server_metadata().name == "modelport"
    meta = client.get_model_metadata("numeric")
    assert meta.name == "numeric"
    assert sorted(meta.versions) == ["1", "2"]
    assert [o.name for o in meta.outputs] == ["predict", "predict_proba"]


def test_every_datatype_answers_like_the_model_in_process(
    grpc_server: tuple[RunningServer, triton.InferenceServerClient], models: Models
) -> None:
    _, client = grpc_server
    X = models.X[:11]
    local = modelport.load("numeric@production", settings=models.settings)
    for datatype, rows in (("FP64", X), ("FP32", X.astype(np.float32))):
        result = client.infer("numeric@production", [_input("input", rows, datatype)])
        assert result.as_numpy("predict").tolist() == local.predict(rows).tolist()
        assert np.allclose(result.as_numpy("predict_proba"), local.predict_proba(rows))
        assert result.get_response().model_version == "1"
    frame = models.credit_test.head(13)
    credit = modelport.load("credit", settings=models.settings)
    inputs = [
        _input("age", frame["age"].to_numpy(np.int64), "INT64"),
        _input("income", frame["income"].to_numpy(np.float64), "FP64"),
        _input("home", frame["home"].to_numpy(object), "BYTES"),
        _input("purpose", frame["purpose"].to_numpy(object), "BYTES"),
    ]
    result = client.infer("credit", inputs)
    assert result.as_numpy("predict").tolist() == credit.predict(frame).tolist()
    assert np.allclose(result.as_numpy("predict_proba"), credit.predict_proba(frame))


def test_bad_input_is_invalid_argument_naming_the_field(
    grpc_server: tuple[RunningServer, triton.InferenceServerClient], models: Models
) -> None:
    _, client = grpc_server
    frame = models.credit_test.head(2)
    inputs = [
        _input("age", frame["age"].to_numpy(np.int64), "INT64"),
        _input("income", np.array(["a lot", "more"], dtype=object), "BYTES"),
        _input("home", frame["home"].to_numpy(object), "BYTES"),
        _input("purpose", frame["purpose"].to_numpy(object), "BYTES"),
    ]
    with pytest.raises(InferenceServerException) as info:
        client.infer("credit", inputs)
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "'income'" in str(info.value.message())
    with pytest.raises(InferenceServerException) as info:
        client.infer("numeric", [_input("input", models.X[:2, :3], "FP64")])
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"


def double(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0] * 2


def triple(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0] * 3


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("grpc-secured") / "home"
    settings = Settings(home=home, user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    modelport.register(double, "m", sample=sample, settings=settings)
    modelport.register(triple, "m", sample=sample, settings=settings)
    modelport.register(double, "other", sample=sample, settings=settings)
    modelport.deploy("checkout", {"m:1": 50, "m:2": 50}, sticky="header:X-User", settings=settings)
    registry = Registry(settings)
    keys = {
        "predict": registry.keys.create(["predict"])[1],
        "scoped": registry.keys.create(["predict"], models=["other"])[1],
    }
    registry.close()
    port = free_port()
    log = home.parent / "server.log"
    server = start_server(
        home, log, "m:1", "other", "--deployment", "checkout", "--auth", "--grpc-port", str(port)
    )
    try:
        yield f"127.0.0.1:{port}", keys, log
    finally:
        assert stop_server(server) == 0, log.read_text()


def test_a_deployment_and_credentials_over_grpc(
    secured: tuple[str, dict[str, str], Path],
) -> None:
    address, keys, _ = secured
    client = triton.InferenceServerClient(address)
    rows = np.array([[1.0, 0.0], [5.0, 0.0]])
    try:
        assert client.is_server_live()  # a probe: no key
        with pytest.raises(InferenceServerException) as info:
            client.infer("other", [_input("input", rows, "FP64")])
        assert info.value.status() == "StatusCode.UNAUTHENTICATED"
        with pytest.raises(InferenceServerException) as info:
            client.infer(
                "checkout",
                [_input("input", rows, "FP64")],
                headers={"authorization": f"Bearer {keys['scoped']}"},
            )
        assert info.value.status() == "StatusCode.PERMISSION_DENIED"
        # the sticky header picks the arm; each user sees one version, always the same
        answers: dict[str, set[str]] = {}
        for user in (f"user-{i}" for i in range(12)):
            for _ in range(2):
                result = client.infer(
                    "checkout",
                    [_input("input", rows, "FP64")],
                    headers={"x-api-key": keys["predict"], "x-user": user},
                )
                version = result.get_response().model_version
                factor = {"1": 2.0, "2": 3.0}[version]
                assert result.as_numpy("predict").tolist() == [1.0 * factor, 5.0 * factor]
                answers.setdefault(user, set()).add(version)
        assert all(len(seen) == 1 for seen in answers.values())
        assert set().union(*answers.values()) == {"1", "2"}  # 12 users: both arms, surely
        scoped = client.infer(
            "other",
            [_input("input", rows, "FP64")],
            headers={"authorization": f"Bearer {keys['scoped']}"},
        )
        assert scoped.as_numpy("predict").tolist() == [2.0, 10.0]
    finally:
        client.close()
