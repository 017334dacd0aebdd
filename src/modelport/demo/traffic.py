"""The demo's HTTP side: start ``modelport serve`` in a child process and talk to it
over both protocols, as any client would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pandas as pd

from modelport.errors import ModelportError
from modelport.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(settings: Settings, refs: list[str], *extra: str) -> Iterator[str]:
    """``modelport serve`` on a free port; yields its base URL; SIGTERM (graceful) at exit."""
    port = free_port()
    env = {**os.environ, "MODELPORT_HOME": str(settings.resolved_home())}
    for key, value in (
        ("MODELPORT_REGISTRY_URI", settings.registry_uri),
        ("MODELPORT_ARTIFACT_URI", settings.artifact_uri),
        ("MODELPORT_LOG_URI", settings.log_uri),
    ):
        if value:
            env[key] = value
    command = [
        sys.executable,
        "-m",
        "modelport",
        "serve",
        *refs,
        "--port",
        str(port),
        "--no-access-log",
        "--log-flush-interval",
        "0.5",
        *extra,
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if process.poll() is not None:
                raise ModelportError(
                    "the demo server did not start: "
                    + (process.stderr.read().decode()[-2000:] if process.stderr else "")
                )
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise ModelportError("the demo server was not ready within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _plain(record: Mapping[Any, Any]) -> dict[str, Any]:
    """JSON-ready values: NaN becomes null (a missing value), NumPy scalars plain numbers."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        key = str(name)
        if isinstance(value, float) and np.isnan(value):
            out[key] = None
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out


def send_v1(
    client: httpx.Client, url: str, model: str, frame: pd.DataFrame, per_request: int
) -> list[str]:
    """Records through KServe V1; returns the prediction ids in row order."""
    ids: list[str] = []
    for start in range(0, len(frame), per_request):
        records = [_plain(r) for r in frame.iloc[start : start + per_request].to_dict("records")]
        response = client.post(
            f"{url}/v1/models/{model}:predict",
            json={"instances": records, "parameters": {"probabilities": True}},
        )
        response.raise_for_status()
        ids += response.json()["prediction_ids"]
    return ids


def v2_inputs(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One named tensor per feature, as the Open Inference Protocol sends columns."""
    inputs = []
    for name in frame.columns:
        column = frame[name]
        data: list[Any]
        if pd.api.types.is_integer_dtype(column):
            datatype, data = "INT64", column.astype(int).tolist()
        elif pd.api.types.is_float_dtype(column):
            datatype, data = "FP64", [None if np.isnan(v) else v for v in column.tolist()]
        else:
            datatype, data = "BYTES", column.astype(str).tolist()
        inputs.append({"name": name, "shape": [len(column)], "datatype": datatype, "data": data})
    return inputs


def send_v2(
    client: httpx.Client, url: str, model: str, frame: pd.DataFrame, per_request: int
) -> list[str]:
    """Named columns through the Open Inference Protocol (V2); returns the prediction ids."""
    name, _, alias = model.partition("@")
    path = f"{url}/v2/models/{name}" + (f"/versions/{alias}" if alias else "") + "/infer"
    ids: list[str] = []
    for start in range(0, len(frame), per_request):
        part = frame.iloc[start : start + per_request]
        response = client.post(path, json={"inputs": v2_inputs(part)})
        response.raise_for_status()
        ids += response.json()["parameters"]["prediction_ids"]
    return ids


_RAW_DTYPES = {"INT64": np.int64, "FP64": np.float64, "FP32": np.float32, "INT32": np.int32}


def grpc_infer(port: int, key: str, model: str, record: Mapping[str, Any]) -> tuple[Any, str]:
    """One record through the Open Inference Protocol over gRPC; (prediction, version).

    Uses modelport's own generated stubs (any KServe V2 gRPC client works the same way).
    """
    import grpc  # type: ignore[import-untyped]

    from modelport.serving.grpc import grpc_predict_v2_pb2 as pb
    from modelport.serving.grpc import grpc_predict_v2_pb2_grpc as rpc

    request = pb.ModelInferRequest(model_name=model)
    for name, value in _plain(record).items():
        tensor = request.inputs.add(name=name, shape=[1])
        if isinstance(value, bool) or value is None or isinstance(value, float):
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.append(float("nan") if value is None else value)
        elif isinstance(value, int):
            tensor.datatype = "INT64"
            tensor.contents.int64_contents.append(value)
        else:
            tensor.datatype = "BYTES"
            tensor.contents.bytes_contents.append(str(value).encode())
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = rpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
        response = stub.ModelInfer(request, metadata=(("x-api-key", key),), timeout=30)
    output = response.outputs[0]
    raw = response.raw_output_contents[0] if response.raw_output_contents else b""
    dtype = _RAW_DTYPES.get(output.datatype)
    answer: Any = np.frombuffer(raw, dtype=dtype)[0].item() if dtype is not None and raw else None
    return answer, f"{response.model_name}:{response.model_version}"


def plain_record(record: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: NaN as null, NumPy scalars as Python numbers."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, float) and np.isnan(value):
            out[key] = None
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out
