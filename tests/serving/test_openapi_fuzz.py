"""schemathesis against a real server: its answers are the ones /openapi.json documents.

Generated requests, valid and invalid, for every operation of the document. No answer may
be a 5xx; each must have a documented status code and content type and a body and headers
that validate against the documented schemas; every request the schema forbids must be
refused (4xx): the schema promises no more than the server does; and a method that is not
documented gets 405.

Left out: ``positive_data_acceptance`` (a schema-valid body may still not match a model's
signature: 422 is the documented answer), ``ignored_auth`` (credentials are described but
not checked yet), and the stateful checks (there is nothing to create and delete).
Bounded by examples per operation, not by time: a loaded machine makes it slower, not
weaker.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import RunningServer

pytestmark = pytest.mark.integration

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
)


def test_the_server_answers_as_its_openapi_document_says(
    server: RunningServer, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "60",
        "--seed",
        "7",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    generated = re.search(r"([0-9]+) generated", result.stdout)
    assert generated and int(generated.group(1)) >= 1000, result.stdout[-3000:]  # not vacuous
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    operations = sum(len(item) for item in paths.values())
    assert f"Tested: {operations}" in result.stdout, result.stdout[-3000:]  # none skipped
