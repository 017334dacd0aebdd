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
from modelport.serving.protocols.common import load_json

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
        ([{"name": "age", "shape": [1], "datatype": [], "data": [1]}], "type"),
        ([{"name": "age", "shape": [1], "datatype": {"a": 1}, "data": [1]}], "type"),
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


ONE_AGE = [{"name": "age", "shape": [1], "datatype": "INT64", "data": [3]}]


@pytest.mark.parametrize(
    "extra",
    [
        {"outputs": 3},
        {"outputs": True},
        {"outputs": "predict"},
        {"outputs": {"name": "predict"}},
        {"outputs": [{"name": "predict", "parameters": [1]}]},
        {"outputs": [{"name": "predict", "parameters": "binary"}]},
        {"outputs": [{"name": "predict", "parameters": {"binary_data": "yes"}}]},
        {"outputs": [{"name": "predict"}, {"name": "predict"}]},
        {"outputs": [{"name": ["predict"]}]},
        {"parameters": [1]},
        {"parameters": {"binary_data_output": 1}},
        {"id": {}},  # echoed back as "{}" before: the id is a string
        {"id": 7},
        {"id": True},
    ],
)
def test_v2_malformed_outputs_and_parameters_are_400(extra: dict) -> None:
    with pytest.raises(InvalidArgument) as info:
        v2.decode_request(_v2(ONE_AGE, **extra), None, SIG, True)
    assert info.value.status == 400


def test_v2_input_parameters_must_be_an_object() -> None:
    inputs = [{**ONE_AGE[0], "parameters": "binary"}]
    with pytest.raises(InvalidArgument, match="parameters"):
        v2.decode_request(_v2(inputs), None, SIG, True)


@pytest.mark.parametrize(
    "spec",
    [
        {"shape": [True, 3], "datatype": "FP64", "data": [1, 2, 3]},
        {"shape": [1, False], "datatype": "FP64", "data": []},
        # 2**32 * 2**32 wraps to 0 in int64 arithmetic, which "matched" the empty data
        {"shape": [2**32, 2**32], "datatype": "FP64", "data": []},
        {"shape": [10**11, 10**11], "datatype": "FP64", "data": [1.0]},
        {"shape": [2**62, 4], "datatype": "BYTES", "data": ["a"]},
        {"shape": [1] * 100, "datatype": "FP64", "data": [1.0]},  # NumPy's limit is 64
    ],
)
def test_v2_shape_is_whole_numbers_whose_product_is_the_data_length(spec: dict) -> None:
    with pytest.raises(ValidationError) as info:
        v2.decode_request(_v2([{"name": "input-0", **spec}]), None, SIG, False)
    assert info.value.problems[0].kind == "shape"


def test_v2_huge_shape_with_short_binary_data_is_refused() -> None:
    raw = np.array([1.0], dtype=np.float64).tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [2**40, 2**40],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    with pytest.raises(ValidationError) as info:
        v2.decode_request(header + raw, len(header), SIG, False)
    assert info.value.problems[0].kind == "shape"


def test_v2_binary_bytes_element_longer_than_its_data_is_refused() -> None:
    raw = struct.pack("<I", 1000) + b"own"
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "home",
                    "shape": [1],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    with pytest.raises(ValidationError, match="runs past"):
        v2.decode_request(header + raw, len(header), SIG, False)


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("FP64", [True]),
        ("FP32", ["14.2"]),
        ("INT64", [1.5]),
        ("INT64", [False]),
        ("BOOL", [1]),
        ("BOOL", ["true"]),
        ("BYTES", [3]),
        ("FP64", [{"v": 1}]),
        ("FP64", [[1.0, 2.0], [3.0]]),
    ],
)
def test_v2_json_data_must_be_of_its_datatype(datatype: str, data: list) -> None:
    n = 2 if datatype == "FP64" and isinstance(data[0], list) else 1
    inputs = [{"name": "x", "shape": [n], "datatype": datatype, "data": data}]
    with pytest.raises(ValidationError) as info:
        v2.decode_request(_v2(inputs), None, SIG, True)
    assert (info.value.problems[0].field, info.value.problems[0].kind) == ("x", "type")


def test_v2_json_data_of_its_datatype_is_accepted() -> None:
    inputs = [
        {"name": "age", "shape": [2], "datatype": "INT64", "data": [1, 2]},
        {"name": "x", "shape": [2, 1], "datatype": "FP64", "data": [[1], [0.5]]},
        {"name": "home", "shape": [2], "datatype": "BYTES", "data": ["own", None]},
    ]
    data = v2.decode_request(_v2(inputs), None, SIG, True).data
    assert data["x"].tolist() == [1.0, 0.5] and data["home"].tolist() == ["own", None]


def test_v2_an_input_name_given_twice_is_refused() -> None:
    inputs = [ONE_AGE[0], {**ONE_AGE[0], "data": [4]}]
    with pytest.raises(InvalidArgument, match="'age' is given twice"):
        v2.decode_request(_v2(inputs), None, SIG, True)


def test_v2_binary_body_without_its_header_names_the_header() -> None:
    raw = np.array([30], dtype=np.int64).tobytes() + b"\xff\xfe"
    header = orjson.dumps(
        {"inputs": [{**ONE_AGE[0], "data": None, "parameters": {"binary_data_size": 8}}]}
    )
    for body, content_type in [
        (header + raw, None),  # not UTF-8
        (header + b"\x01\x02", "application/octet-stream"),
    ]:
        with pytest.raises(InvalidArgument, match="Inference-Header-Content-Length") as info:
            v2.decode_request(body, None, SIG, True, content_type=content_type)
        assert "missing" in str(info.value)
    with pytest.raises(InvalidArgument, match="malformed JSON"):
        v2.decode_request(b'{"inputs": [', None, SIG, True, content_type="application/json")


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "\u00b3", "\u0663", ""])
def test_v2_header_length_is_ascii_digits(value: str) -> None:
    with pytest.raises(InvalidArgument, match="Inference-Header-Content-Length"):
        v2.header_length(value)
    assert v2.header_length(None) is None and v2.header_length("12") == 12


@pytest.mark.parametrize(
    "parameters",
    [{"probabilities": "yes"}, {"probabilities": 1}, {"probabilities": None}, [True], "all"],
)
def test_v1_probabilities_must_be_a_boolean(parameters: object) -> None:
    body = orjson.dumps({"instances": [[1, 2.0, "own"]], "parameters": parameters})
    with pytest.raises(InvalidArgument) as info:
        v1.decode_request(body)
    assert "parameters" in str(info.value)
    assert v1.decode_request(b'{"instances": [[1]], "parameters": {}}').probabilities is False


@pytest.mark.parametrize("body", [b'{"instances": []}', b'{"inputs": []}', b'{"inputs": {}}'])
def test_v1_no_rows_is_422(body: bytes) -> None:
    with pytest.raises(ValidationError) as info:
        v1.decode_request(body)
    assert info.value.status == 422 and "no input rows" in str(info.value)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"instances": [[1]], "instances": [[2]]}', "instances"),
        (b'{"instances": [{"age": 1, "age": 2}]}', "age"),
        (b'{"a": "10:00", "a" : "11:00"}', "a"),
        (b'{"k": "\\u003a", "k": 1}', "k"),
        (b'{"x": {"y": [{"z": 1, "w": {"q": 1, "q": 1}}]}}', "q"),
    ],
)
def test_a_json_key_given_twice_is_refused(body: bytes, key: str) -> None:
    with pytest.raises(InvalidArgument, match=f"the key '{key}' appears twice"):
        load_json(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[1, 2]]}',
        b'{"t": "10:00:00", "u": "a:b", "v": {"t": "x"}}',
        b'{"a\\u003a": 1, "b": "\\u00e9:"}',
        b'[{"age": 1}, {"age": 2}]',
        b'{"n": 18446744073709551616, "m": 1e308}',
    ],
)
def test_json_without_repeated_keys_parses_as_orjson_does(body: bytes) -> None:
    assert load_json(body) == orjson.loads(body)


def test_a_client_value_quoted_in_an_error_is_cut_short() -> None:
    long_text = "9" * 100_000
    inputs = [{"name": "x", "shape": [1], "datatype": "FP64", "data": [long_text]}]
    with pytest.raises(ValidationError) as info:
        v2.decode_request(_v2(inputs), None, SIG, True)
    assert len(str(info.value)) < 300
    with pytest.raises(InvalidArgument) as bad:
        v1.decode_request(
            orjson.dumps({"instances": [[1]], "parameters": {"probabilities": [1] * 10_000}})
        )
    assert len(str(bad.value)) < 300


def test_a_body_the_repeated_key_check_cannot_clear_is_a_400_not_a_500() -> None:
    deep = b"[" * 1000 + b"]" * 1000
    with pytest.raises(InvalidArgument, match="nested too deeply"):
        load_json(b'{"a": 1, "b": ' + deep + b', "a": 2}')
    with pytest.raises(InvalidArgument, match="malformed JSON"):
        load_json(b'{"a": "\\ud800:", "b": 1}')  # a lone surrogate: orjson reads it, json not
