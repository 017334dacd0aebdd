"""The Open Inference Protocol over gRPC, in-process: the app's lifespan starts a real
``grpc.aio`` server on a free port, driven by tritonclient's gRPC client (unmodified) and by
raw stubs of the vendored proto for what that client cannot send."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2 as triton_pb2
from tritonclient.utils import InferenceServerException

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.serving import ServeConfig, create_app
from modelport.serving.grpc import grpc_predict_v2_pb2 as pb
from modelport.serving.grpc import grpc_predict_v2_pb2_grpc as pb_grpc
from modelport.settings import Settings
from tests.serving.conftest import Models, free_port


@pytest.fixture(scope="module")
def served(models: Models) -> Iterator[tuple[TestClient, str]]:
    port = free_port()
    config = ServeConfig(auth=False, grpc_port=port, max_body_bytes=50_000, max_rows=500)
    with TestClient(create_app(config, settings=models.settings)) as client:
        yield client, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def triton_client(served: tuple[TestClient, str]) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(served[1])
    yield client
    client.close()


@pytest.fixture(scope="module")
def stub(served: tuple[TestClient, str]) -> Iterator[pb_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(served[1]) as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def _input(name: str, array: np.ndarray, datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _refused(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


# -- the proto -------------------------------------------------------------------------------


def _fields(message: Any) -> dict[str, tuple[Any, ...]]:
    return {
        f.name: (
            f.number,
            f.type,
            f.is_repeated,
            f.message_type.full_name if f.message_type else None,
            f.containing_oneof.name if f.containing_oneof else None,
        )
        for f in message.fields
    }


def _messages(message: Any) -> Iterator[Any]:
    yield message
    for nested in message.nested_types:
        yield from _messages(nested)


def test_every_message_and_field_is_tritons() -> None:
    ours, theirs = pb.DESCRIPTOR, triton_pb2.DESCRIPTOR
    assert ours.package == theirs.package == "inference"
    checked = 0
    for top in ours.message_types_by_name.values():
        for message in _messages(top):
            twin = theirs.pool.FindMessageTypeByName(message.full_name)
            assert _fields(message) == _fields(twin), message.full_name
            checked += 1
    assert checked >= 20
    service = ours.services_by_name["GRPCInferenceService"]
    twin_service = theirs.services_by_name["GRPCInferenceService"]
    for method in service.methods:
        twin = twin_service.methods_by_name[method.name]
        assert (method.input_type.full_name, method.output_type.full_name) == (
            twin.input_type.full_name,
            twin.output_type.full_name,
        )
    assert {m.name for m in service.methods} == {
        "ServerLive",
        "ServerReady",
        "ModelReady",
        "ServerMetadata",
        "ModelMetadata",
        "ModelInfer",
    }


def test_the_generated_modules_are_current(tmp_path: Path) -> None:
    proto = Path(pb.__file__).with_name("grpc_predict_v2.proto").read_text()
    # the descriptor compiled into the module is the one the .proto text describes
    from grpc_tools import protoc

    (tmp_path / "grpc_predict_v2.proto").write_text(proto)
    out = tmp_path / "out"
    out.mkdir()
    assert protoc.main(["protoc", f"-I{tmp_path}", f"--descriptor_set_out={out / 'set'}",
                        str(tmp_path / "grpc_predict_v2.proto")]) == 0  # fmt: skip
    from google.protobuf import descriptor_pb2

    compiled = descriptor_pb2.FileDescriptorSet.FromString((out / "set").read_bytes()).file[0]
    for message in compiled.message_type:  # protoc's Python output leaves json_name out
        _drop_json_names(message)
    embedded = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(embedded)
    assert compiled == embedded


def _drop_json_names(message: Any) -> None:
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _drop_json_names(nested)


# -- health and metadata ---------------------------------------------------------------------


def test_health_and_metadata(triton_client: triton.InferenceServerClient) -> None:
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready("numeric")
    assert triton_client.is_model_ready("numeric", "1")
    assert triton_client.is_model_ready("numeric@production")
    assert not triton_client.is_model_ready("nope")
    server = triton_client.get_server_metadata(as_json=True)
    assert server["name"] == "modelport"
    assert server["version"] == modelport.__version__
    meta = triton_client.get_model_metadata("credit", as_json=True)
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("age", "INT64"),
        ("income", "FP64"),
        ("home", "BYTES"),
        ("purpose", "BYTES"),
    ]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert meta["platform"].startswith("modelport_")
    with pytest.raises(InferenceServerException, match="NOT_FOUND"):
        triton_client.get_model_metadata("nope")


def test_triton_only_rpcs_are_unimplemented_with_a_reason(
    triton_client: triton.InferenceServerClient,
) -> None:
    for call in (
        lambda: triton_client.get_model_config("numeric"),
        lambda: triton_client.get_model_repository_index(),
        lambda: triton_client.get_inference_statistics("numeric"),
    ):
        with pytest.raises(InferenceServerException) as info:
            call()
        assert info.value.status() == "StatusCode.UNIMPLEMENTED"
        assert "does not implement" in str(info.value.message())


# -- inference -------------------------------------------------------------------------------


def test_infer_fp64_and_fp32_rows_equal_in_process_predictions(
    triton_client: triton.InferenceServerClient, models: Models
) -> None:
    X = models.X[:7]
    for version, model in [("", models.numeric_v2), ("1", models.numeric_v1)]:
        result = triton_client.infer("numeric", [_input("input", X, "FP64")], model_version=version)
        assert result.as_numpy("predict").tolist() == model.predict(X).tolist()
        assert np.allclose(result.as_numpy("predict_proba"), model.predict_proba(X))
        assert result.get_response().model_version == str(2 if not version else 1)
    # FP32: the values a float32 holds (the signature accepts any float)
    X32 = X.astype(np.float32)
    result = triton_client.infer("numeric@production", [_input("input", X32, "FP32")])
    expected = models.numeric_v1.predict(X32.astype(np.float64))
    assert result.as_numpy("predict").tolist() == expected.tolist()
    assert result.get_response().model_version == "1"


def test_infer_per_feature_int64_fp64_bytes(
    triton_client: triton.InferenceServerClient, models: Models
) -> None:
    frame = models.credit_test.head(9)
    inputs = [
        _input("age", frame["age"].to_numpy(np.int64), "INT64"),
        _input("income", frame["income"].to_numpy(np.float64), "FP64"),
        _input("home", frame["home"].to_numpy(object), "BYTES"),
        _input("purpose", frame["purpose"].to_numpy(object), "BYTES"),
    ]
    outputs = [triton.InferRequestedOutput("predict")]
    result = triton_client.infer("credit", inputs, outputs=outputs, request_id="r-1")
    assert result.as_numpy("predict").tolist() == models.credit_model.predict(frame).tolist()
    assert result.as_numpy("predict_proba") is None
    response = result.get_response()
    assert response.id == "r-1"
    ids = response.parameters["prediction_ids"].string_param.split(",")
    assert len(ids) == 9


def test_typed_contents_answer_like_raw_contents(
    stub: pb_grpc.GRPCInferenceServiceStub, models: Models
) -> None:
    frame = models.credit_test.head(4)
    request = pb.ModelInferRequest(model_name="credit", model_version="production")
    request.inputs.add(name="age", datatype="INT64", shape=[4]).contents.int64_contents.extend(
        frame["age"].tolist()
    )
    request.inputs.add(name="income", datatype="FP64", shape=[4, 1]).contents.fp64_contents.extend(
        frame["income"].tolist()
    )
    for name in ("home", "purpose"):
        request.inputs.add(name=name, datatype="BYTES", shape=[4]).contents.bytes_contents.extend(
            v.encode() for v in frame[name]
        )
    response, call = stub.ModelInfer.with_call(request)
    assert response.model_version == "1"
    assert dict(call.trailing_metadata())["x-model-version"] == "credit:1"
    predict = np.frombuffer(response.raw_output_contents[0], dtype="<i8")
    assert predict.tolist() == models.credit_model.predict(frame).tolist()
    assert [o.name for o in response.outputs] == ["predict", "predict_proba"]
    assert list(response.outputs[1].shape) == [4, 2]


# -- refusals --------------------------------------------------------------------------------


def _rows_request(X: np.ndarray, **changes: Any) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=changes.pop("model", "numeric"))
    request.inputs.add(name="input", datatype=changes.pop("datatype", "FP64"),
                       shape=changes.pop("shape", list(X.shape)))  # fmt: skip
    request.raw_input_contents.append(changes.pop("raw", X.astype("<f8").tobytes()))
    return request


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"raw": b"\x00" * 20}, "20 bytes do not hold 8 FP64 values"),
        ({"shape": [2**40, 4]}, "the body cannot hold them"),
        ({"shape": [2, 2, 2]}, "3 dimensions"),
        ({"shape": [-1, 4]}, "whole numbers >= 0"),
        ({"datatype": "FP128"}, "unknown datatype"),
        ({"shape": [2, 3], "raw": b"\x00" * 48}, "expected (rows, 4) values"),
    ],
)
def test_bad_tensors_are_invalid_argument(
    stub: pb_grpc.GRPCInferenceServiceStub,
    models: Models,
    changes: dict[str, Any],
    expected: str,
) -> None:
    error = _refused(lambda: stub.ModelInfer(_rows_request(models.X[:2], **changes)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in error.details()
    assert dict(error.trailing_metadata())["x-model-version"] == "numeric:2"


def test_contents_in_the_wrong_form_are_invalid_argument(
    stub: pb_grpc.GRPCInferenceServiceStub, models: Models
) -> None:
    mixed = _rows_request(models.X[:2])
    mixed.inputs[0].contents.fp64_contents.extend([1.0] * 8)
    other_field = pb.ModelInferRequest(model_name="numeric")
    other_field.inputs.add(
        name="input", datatype="FP64", shape=[1, 4]
    ).contents.fp32_contents.extend([1.0] * 4)
    too_many_raw = _rows_request(models.X[:2])
    too_many_raw.raw_input_contents.append(b"")
    fp16 = pb.ModelInferRequest(model_name="numeric")
    fp16.inputs.add(name="input", datatype="FP16", shape=[1, 4])
    for request, expected in [
        (mixed, "both contents and raw_input_contents"),
        (other_field, "'input': FP64 data belongs in contents.fp64_contents"),
        (too_many_raw, "raw_input_contents has 2 entries for 1 inputs"),
        (fp16, "FP16 data can only be sent in raw_input_contents"),
        (pb.ModelInferRequest(model_name="numeric"), "the request has no inputs"),
    ]:
        error = _refused(lambda r=request: stub.ModelInfer(r))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, expected
        assert expected in error.details()


def test_a_bad_category_names_the_field(
    triton_client: triton.InferenceServerClient, models: Models
) -> None:
    frame = models.credit_test.head(2)
    home = np.array(["castle", "rent"], dtype=object)
    inputs = [
        _input("age", frame["age"].to_numpy(np.int64), "INT64"),
        _input("income", frame["income"].to_numpy(np.float64), "FP64"),
        _input("home", home, "BYTES"),
        _input("purpose", frame["purpose"].to_numpy(object), "BYTES"),
    ]
    with pytest.raises(InferenceServerException) as info:
        triton_client.infer("credit", inputs)
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "'home'" in str(info.value.message())
    assert "castle" in str(info.value.message())


def test_malformed_messages_are_invalid_argument(served: tuple[TestClient, str]) -> None:
    with grpc.insecure_channel(served[1]) as channel:
        for method in ("ModelInfer", "ModelMetadata", "ModelReady"):
            call = channel.unary_unary(f"/inference.GRPCInferenceService/{method}")
            error = _refused(lambda c=call: c(b"\xff\xff\xff"))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, method
            assert "is not a valid" in error.details()


def test_unknown_models_versions_and_outputs(stub: pb_grpc.GRPCInferenceServiceStub) -> None:
    X = np.zeros((1, 4))
    for model, code in [
        ("nope", grpc.StatusCode.NOT_FOUND),
        ("numeric:9", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("bad name!", grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        error = _refused(lambda m=model: stub.ModelInfer(_rows_request(X, model=m)))
        assert error.code() == code, model
    request = _rows_request(X)
    request.outputs.add(name="explain")
    error = _refused(lambda: stub.ModelInfer(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown output 'explain'" in error.details()


def test_size_and_row_limits_are_resource_exhausted(
    stub: pb_grpc.GRPCInferenceServiceStub,
) -> None:
    big = np.zeros((2000, 4))  # 64 kB: over the 50 kB message limit (max_body_bytes)
    error = _refused(lambda: stub.ModelInfer(_rows_request(big)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    many = np.zeros((600, 4), dtype=np.float32)  # 9.6 kB, but over max_rows=500
    request = _rows_request(many, datatype="FP32", raw=many.astype("<f4").tobytes())
    error = _refused(lambda: stub.ModelInfer(request))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "600 rows" in error.details()


def test_grpc_requests_are_counted_in_metrics(
    served: tuple[TestClient, str], triton_client: triton.InferenceServerClient, models: Models
) -> None:
    triton_client.infer("numeric", [_input("input", models.X[:1], "FP64")])
    text = served[0].get("/metrics").text
    counted = [line for line in text.splitlines() if 'protocol="grpc"' in line]
    assert any('model="numeric"' in line and 'status="200"' in line for line in counted)
    assert any('status="422"' in line for line in counted)  # the refusals above


# -- deployments and credentials -------------------------------------------------------------


def double(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0] * 2


def triple(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0] * 3


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    settings = Settings(home=tmp_path_factory.mktemp("grpc-guard") / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    modelport.register(double, "m", sample=sample, settings=settings)
    modelport.register(triple, "m", sample=sample, settings=settings)
    modelport.register(double, "other", sample=sample, settings=settings)
    modelport.deploy("checkout", {"m:2": 1}, settings=settings)
    from modelport.registry import Registry

    registry = Registry(settings)
    keys = {role: registry.keys.create([role])[1] for role in ("predict", "read", "feedback")}
    keys["scoped"] = registry.keys.create(["predict"], models=["m"])[1]
    registry.close()
    port = free_port()
    config = ServeConfig(refs=("m:1", "other"), deployments=("checkout",), grpc_port=port)
    with TestClient(create_app(config, settings=settings)):
        yield f"127.0.0.1:{port}", keys


def _bearer(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def test_a_deployment_answers_over_grpc(guarded: tuple[str, dict[str, str]]) -> None:
    address, keys = guarded
    client = triton.InferenceServerClient(address)
    try:
        rows = np.array([[1.0, 5.0], [2.0, 6.0]])
        result = client.infer(
            "checkout", [_input("input", rows, "FP64")], headers={"x-api-key": keys["predict"]}
        )
        assert result.as_numpy("predict").tolist() == [3.0, 6.0]  # m:2 triples
        assert result.get_response().model_name == "m"
        assert result.get_response().model_version == "2"
        direct = client.infer(
            "m",
            [_input("input", rows, "FP64")],
            model_version="1",
            headers={"x-api-key": keys["scoped"]},
        )
        assert direct.as_numpy("predict").tolist() == [2.0, 4.0]  # m:1 doubles
    finally:
        client.close()


def test_credentials_roles_and_scopes(guarded: tuple[str, dict[str, str]]) -> None:
    address, keys = guarded
    rows = np.array([[1.0, 5.0]])
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        # probes need nothing
        assert stub.ServerLive(pb.ServerLiveRequest()).live
        assert stub.ServerReady(pb.ServerReadyRequest()).ready
        unknown = "Bearer mpk_0123456789ab_" + "x" * 43
        for metadata in (
            [],
            [("authorization", unknown)],
            [("x-api-key", "nope")],
            [("authorization", "Basic dXNlcjpwYXNz")],
        ):
            error = _refused(
                lambda md=metadata: stub.ModelInfer(_rows_request(rows, model="m:1"), metadata=md)
            )
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
            error = _refused(
                lambda md=metadata: stub.ModelMetadata(
                    pb.ModelMetadataRequest(name="m", version="1"), metadata=md
                )
            )
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
        # a predict key scoped to m: m and the deployment... only m
        error = _refused(
            lambda: stub.ModelInfer(
                _rows_request(rows, model="other"), metadata=_bearer(keys["scoped"])
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "not scoped to 'other'" in error.details()
        # roles: read cannot predict, predict cannot read metadata
        error = _refused(
            lambda: stub.ModelInfer(
                _rows_request(rows, model="m:1"), metadata=_bearer(keys["read"])
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        error = _refused(
            lambda: stub.ModelMetadata(
                pb.ModelMetadataRequest(name="m", version="1"), metadata=_bearer(keys["predict"])
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        meta = stub.ModelMetadata(
            pb.ModelMetadataRequest(name="m", version="1"), metadata=_bearer(keys["read"])
        )
        assert meta.name == "m"
        # a deployment is ready when its arms are, and described by its first arm
        read = _bearer(keys["read"])
        assert stub.ModelReady(pb.ModelReadyRequest(name="checkout"), metadata=read).ready
        assert not stub.ModelReady(pb.ModelReadyRequest(name="m", version="7"), metadata=read).ready
        described = stub.ModelMetadata(pb.ModelMetadataRequest(name="checkout"), metadata=read)
        assert [t.name for t in described.outputs] == ["predict"]
        ready = stub.ModelReady(
            pb.ModelReadyRequest(name="m", version="1"), metadata=_bearer(keys["read"])
        )
        assert ready.ready
        answer = stub.ModelInfer(
            _rows_request(rows, model="m:1"), metadata=_bearer(keys["predict"])
        )
        assert np.frombuffer(answer.raw_output_contents[0], "<f8").tolist() == [2.0]
