"""The wire codecs as pure functions: bytes in, model input out; results in, bytes out."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pandas as pd
import pytest

from modelport.errors import InvalidArgument, ValidationError
from modelport.schema import infer_signature
from modelport.serving.protocols import v1, v2

SIG = infer_signature(pd.DataFrame({"age": [30, 40], "x": [0.5, 1.5], "home": ["own", "rent"]}))


def test_v1_rows_records_and_columns() -> None:
    assert v1.decode_request(b'{"instances": [[1, 2.0, "own"]]}').data == [[1, 2.0, "own"]]
    assert v1.decode_request(b'{"instances": [{"age": 1}]}').data == [{"age": 1}]
    assert v1.decode_request(b'{"instances": {"age": 1}}').data == [{"age": 1}]
    assert v1.decode_request(b'{"inputs": {"age": [1, 2]}}').data == {"age": [1, 2]}
    req = v1.decode_request(b'{"instances": [[1]], "parameters": {"probabilities": true}}')
    assert req.probabilities


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"[1, 2]",
        b'{"rows": []}',
        b'{"instances": [[1]], "inputs": [[1]]}',
        b'{"instances": 3}',
    ],
)
def test_v1_bad_envelopes_are_400(body: bytes) -> None:
    with pytest.raises(InvalidArgument) as info:
        v1.decode_request(body)
    assert info.value.status == 400


def test_v1_response() -> None:
    body = v1.encode_response(np.array([1, 0]), None, [0, 1])
    assert orjson.loads(body) == {"predictions": [1, 0]}
    body = v1.encode_response(np.array(["a"]), np.array([[0.25, 0.75]]), ["a", "b"])
    assert orjson.loads(body) == {
        "predictions": ["a"],
        "probabilities": [[0.25, 0.75]],
        "classes": ["a", "b"],
    }


def _v2(inputs: list[dict], **extra: object) -> bytes:
    return orjson.dumps({"inputs": inputs, **extra})


def test_v2_named_inputs_become_columns() -> None:
    body = _v2(
        [
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [30, 41]},
            {"name": "x", "shape": [2, 1], "datatype": "FP32", "data": [[0.5], [1.0]]},
            {"name": "home", "shape": [2], "datatype": "BYTES", "data": ["own", "rent"]},
        ],
        id="r1",
    )
    req = v2.decode_request(body, None, SIG, True)
    assert req.id == "r1"
    assert list(req.data) == ["age", "x", "home"]
    assert req.data["x"].tolist() == [0.5, 1.0] and req.data["x"].dtype == np.float32
    assert req.outputs == {"predict": False, "predict_proba": False}


def test_v2_single_2d_tensor_becomes_rows() -> None:
    body = _v2(
        [{"name": "input-0", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}]
    )
    data = v2.decode_request(body, None, SIG, False).data
    assert data.shape == (2, 3)


def test_v2_binary_tensors_in_and_out() -> None:
    ages = np.array([30, 41], dtype=np.int64).tobytes()
    homes = b"".join(struct.pack("<I", len(s)) + s for s in (b"own", b"rent"))
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "age",
                    "shape": [2],
                    "datatype": "INT64",
                    "parameters": {"binary_data_size": len(ages)},
                },
                {
                    "name": "home",
                    "shape": [2],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(homes)},
                },
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    req = v2.decode_request(header + ages + homes, len(header), SIG, True)
    assert req.data["age"].tolist() == [30, 41]
    assert req.data["home"].tolist() == ["own", "rent"]
    assert req.outputs == {"predict": True, "predict_proba": True}
    results = {"predict": np.array([1, 0]), "predict_proba": np.array([[0.1, 0.9], [0.8, 0.2]])}
    body, length = v2.encode_response("m", 3, req, results)
    assert length is not None
    doc = orjson.loads(body[:length])
    assert doc["model_version"] == "3"
    sizes = [o["parameters"]["binary_data_size"] for o in doc["outputs"]]
    raw = body[length:]
    assert np.frombuffer(raw[: sizes[0]], dtype=np.int64).tolist() == [1, 0]
    assert np.frombuffer(raw[sizes[0] :], dtype=np.float64).reshape(2, 2).tolist() == [
        [0.1, 0.9],
        [0.8, 0.2],
    ]


def test_v2_json_outputs_and_requested_subset() -> None:
    body = _v2(
        [{"name": "age", "shape": [1], "datatype": "INT64", "data": [3]}],
        outputs=[{"name": "predict"}],
    )
    req = v2.decode_request(body, None, SIG, True)
    assert req.outputs == {"predict": False}
    content, length = v2.encode_response("m", 1, req, {"predict": np.array(["yes"])})
    assert length is None
    assert orjson.loads(content)["outputs"] == [
        {"name": "predict", "shape": [1], "datatype": "BYTES", "data": ["yes"]}
    ]


@pytest.mark.parametrize(
    ("inputs", "kind"),
    [
        ([{"name": "age", "shape": [3], "datatype": "INT64", "data": [1, 2]}], "shape"),
        ([{"name": "age", "shape": [2], "datatype": "INT64", "data": ["a", "b"]}], "type"),
        ([{"name": "age", "shape": [1], "datatype": "COMPLEX", "data": [1]}], "type"),
        (
            [
                {"name": "age", "shape": [1, 2, 1], "datatype": "INT64", "data": [1, 2]},
                {"name": "x", "shape": [1], "datatype": "FP64", "data": [1]},
            ],
            "shape",
        ),
        ([{"name": "zzz", "shape": [2], "datatype": "FP64", "data": [1, 2]}], "shape"),
    ],
)
def test_v2_bad_tensors_name_the_input(inputs: list[dict], kind: str) -> None:
    with pytest.raises(ValidationError) as info:
        v2.decode_request(_v2(inputs), None, SIG, True)
    assert info.value.problems[0].kind == kind


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"inputs": []}',
        b'{"inputs": [{"shape": [1]}]}',
        _v2(
            [{"name": "age", "shape": [1], "datatype": "INT64", "data": [1]}],
            outputs=[{"name": "explain"}],
        ),
    ],
)
def test_v2_bad_envelopes_are_400(body: bytes) -> None:
    with pytest.raises(InvalidArgument):
        v2.decode_request(body, None, SIG, True)


def test_v2_metadata_lists_datatypes() -> None:
    meta = v2.model_metadata("m", [1, 2], "modelport_sklearn", SIG, [0, 1])
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("age", "INT64"),
        ("x", "FP64"),
        ("home", "BYTES"),
    ]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert meta["versions"] == ["1", "2"]
