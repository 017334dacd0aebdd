"""``--grpc-port``: the option on every entry point, its checks, the missing extra, a busy
port, and TLS from --tls-cert/--tls-key."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
import warnings
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from typer.testing import CliRunner

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.cli import app as cli
from modelport.errors import ConfigurationError, InvalidArgument, MissingExtraError
from modelport.runtime.config import ServeConfig, preflight
from modelport.serving import create_app
from modelport.serving.__main__ import config_from_args
from modelport.serving.grpc import grpc_predict_v2_pb2 as pb
from modelport.serving.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from modelport.serving.grpc import server as grpc_server
from modelport.settings import Settings
from tests.serving.conftest import free_port
from tests.serving.test_security_integration import self_signed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grpc_port": 0}, "not between 1 and 65535"),
        ({"grpc_port": 70000}, "not between 1 and 65535"),
        ({"grpc_port": 8080, "port": 8080}, "also the HTTP --port"),
    ],
)
def test_bad_grpc_ports_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        ServeConfig(**changes)


def test_the_option_is_an_int_everywhere(settings: Settings) -> None:
    config = config_from_args(["m", "--grpc-port", "9001"], settings)
    assert config.grpc_port == 9001
    assert config_from_args(["m"], settings).grpc_port is None
    assert ServeConfig.from_json(config.to_json()).grpc_port == 9001  # --workers N
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    assert "--grpc-port" in result.output
    assert "--grpc-port 8081" in result.output


def test_without_grpcio_the_error_names_the_extra(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a)
    )
    with pytest.raises(MissingExtraError) as info:
        preflight(ServeConfig(grpc_port=9001), settings)
    assert "pip install 'modelport[grpc]'" in str(info.value)
    monkeypatch.setitem(sys.modules, "grpc", None)  # import grpc now fails
    with pytest.raises(MissingExtraError, match=r"modelport\[grpc\]"):
        asyncio.run(grpc_server.start(None))  # type: ignore[arg-type]


def double(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0] * 2


@pytest.fixture
def home(settings: Settings) -> Settings:
    modelport.register(double, "m", sample=np.zeros((4, 2)), settings=settings)
    return settings


def test_a_busy_port_is_an_error_at_start(home: Settings) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = ServeConfig(auth=False, grpc_port=port)
        refused = pytest.raises(ConfigurationError, match=f"cannot serve gRPC on 127.0.0.1:{port}")
        with refused, TestClient(create_app(config, settings=home)):
            pass


def _rows() -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="m")
    request.inputs.add(name="input", datatype="FP64", shape=[1, 2])
    request.raw_input_contents.append(np.array([[4.0, 1.0]]).astype("<f8").tobytes())
    return request


def test_grpc_serves_tls_with_the_http_certificate(home: Settings, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    config = ServeConfig(auth=False, grpc_port=port, tls_cert=str(cert), tls_key=str(key))
    with TestClient(create_app(config, settings=home)):
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(_rows())
        assert np.frombuffer(answer.raw_output_contents[0], "<f8").tolist() == [8.0]
        with (
            grpc.insecure_channel(f"127.0.0.1:{port}") as plain,
            pytest.raises(grpc.RpcError) as info,
        ):
            pb_grpc.GRPCInferenceServiceStub(plain).ModelInfer(_rows(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
