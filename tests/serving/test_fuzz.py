"""Fuzzing a real server: generated and mutated requests never get a 5xx.

Two fuzzers, both bounded by a number of cases (the machine may be loaded, so no time limit decides
pass or fail). schemathesis works from ``/openapi.json`` alone, as an outside client would. The
mutation fuzzer knows what a valid V1 or V2 request looks like for the served models and replaces
one part of it at a time with arbitrary JSON, which reaches the validation code that a generic
``{"type": "object"}`` body never gets past.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.conftest import Models, RunningServer

pytestmark = pytest.mark.integration

#: what a client mistake may be answered with; anything 5xx is a defect
CLIENT_ERRORS = {400, 404, 405, 413, 415, 422}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _check(response: httpx.Response, body: Any) -> None:
    assert response.status_code < 500, f"{response.status_code} for {body!r}: {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.text
        assert "error" in response.json(), response.text


def _mutations(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """``valid`` with one value replaced, a key added or dropped, or replaced whole."""

    def replace_at(path: list[Any], value: Any) -> Any:
        body = json.loads(json.dumps(valid))
        target = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return body

    paths: list[list[Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        if path:
            paths.append(path)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, [*path, key])
        elif isinstance(node, list):
            for index, child in enumerate(node[:2]):
                walk(child, [*path, index])

    walk(valid, [])
    replaced = st.tuples(st.sampled_from(paths), json_values).map(lambda pv: replace_at(*pv))
    added = st.tuples(st.text(max_size=10), json_values).map(lambda kv: {**valid, kv[0]: kv[1]})
    dropped = st.sampled_from(sorted(valid)).map(
        lambda key: {k: v for k, v in valid.items() if k != key}
    )
    return replaced | added | dropped | json_values


@pytest.fixture(scope="module")
def valid_bodies(models: Models) -> list[tuple[str, dict[str, Any]]]:
    record = models.credit_test.head(2).to_dict(orient="records")
    rows = models.X[:2].tolist()
    return [
        ("/v1/models/credit:predict", {"instances": record}),
        ("/v1/models/numeric:predict", {"instances": rows, "probabilities": True}),
        (
            "/v2/models/credit/infer",
            {
                "inputs": [
                    {"name": n, "shape": [2], "datatype": d, "data": [r[n] for r in record]}
                    for n, d in (("age", "INT64"), ("income", "FP64"), ("home", "BYTES"))
                ]
                + [{"name": "purpose", "shape": [2], "datatype": "BYTES", "data": ["car", "car"]}],
                "outputs": [{"name": "predict", "parameters": {"binary_data": False}}],
            },
        ),
        (
            "/v2/models/numeric/versions/1/infer",
            {
                "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP64", "data": rows}],
                "parameters": {"probabilities": True},
            },
        ),
    ]


def test_the_valid_bodies_are_valid(
    server: RunningServer, valid_bodies: list[tuple[str, dict[str, Any]]]
) -> None:
    with httpx.Client(base_url=server.url) as client:
        for path, body in valid_bodies:
            response = client.post(path, json=body)
            assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize("which", range(4))
def test_mutated_predict_bodies_never_get_a_server_error(
    server: RunningServer, valid_bodies: list[tuple[str, dict[str, Any]]], which: int
) -> None:
    path, valid = valid_bodies[which]
    with httpx.Client(base_url=server.url, timeout=30) as client:

        @settings(
            max_examples=250,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(body=_mutations(valid))
        def fuzz(body: Any) -> None:
            _check(client.post(path, json=body), body)

        fuzz()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"instances": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}',
        b"\xff\xfe{",
        b"[",
        b"1e999",
        b'{"instances": [[1e999, 0, 0, 0]]}',
        b'{"instances": [[' + b"[" * 5000 + b"]" * 5000 + b"]]}",
    ],
)
def test_raw_bodies_never_get_a_server_error(server: RunningServer, raw: bytes) -> None:
    response = httpx.post(f"{server.url}/v1/models/numeric:predict", content=raw, timeout=30)
    _check(response, raw)


def test_schemathesis_finds_no_server_error(server: RunningServer, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "60",
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    generated = re.search(r"([0-9]+) generated", result.stdout)
    assert generated and int(generated.group(1)) >= 200, result.stdout[-3000:]  # not vacuous
