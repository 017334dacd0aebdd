"""The OpenAPI document in-process: valid OpenAPI 3.1, every route described, examples true.

"True" twice over: every example validates against the schema beside it, and the request
examples, sent to a server with the conftest models, are answered with bodies that validate
against the documented response schemas. The fuzz test (test_openapi_fuzz.py) checks the
same against generated requests. /docs and /redoc load nothing from another host, and a
headless Chromium that cannot resolve any other host renders every operation (integration).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import numpy as np
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 here; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.serving import ServeConfig, create_app
from modelport.serving.docs import STATIC
from modelport.serving.openapi_schemas import SCHEMAS
from modelport.settings import Settings
from tests.serving.conftest import Models, RunningServer

METHODS = {"get", "post", "put", "patch", "delete"}
PUBLIC = {"/", "/v2/health/live", "/v2/health/ready"}


@pytest.fixture(scope="module")
def client(models: Models) -> Iterator[TestClient]:
    with TestClient(
        create_app(ServeConfig(auth=False, poll_interval=0.1), settings=models.settings)
    ) as c:
        yield c


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """``schema`` with the document's components beside it, so its $refs resolve."""
    schema = {**schema, "components": doc["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = doc["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _media_examples(media: dict[str, Any]) -> list[Any]:
    values = [media["example"]] if "example" in media else []
    return values + [e["value"] for e in media.get("examples", {}).values()]


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    errors = [e.message for e in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(doc)]
    assert not errors, errors[:5]
    for name, schema in doc["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_every_route_of_the_app_is_described(client: TestClient, doc: dict[str, Any]) -> None:
    fastapi_app = client.app.app.fallback  # type: ignore[attr-defined]
    served = {
        (route.path, method.lower())
        for route in fastapi_app.routes
        if getattr(route, "include_in_schema", False)
        for method in getattr(route, "methods", ()) - {"HEAD"}
    }
    hot = {  # the prediction routes, which bypass FastAPI
        ("/v1/models/{name}:predict", "post"),
        ("/v2/models/{name}/infer", "post"),
        ("/v2/models/{name}/versions/{version}/infer", "post"),
    }
    described = {(path, method) for path, method, _ in _operations(doc)}
    assert served | hot == described
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's, not ours


def test_each_operation_has_schemas_examples_errors_and_security(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        where = f"{method.upper()} {path}"
        ok = op["responses"]["200"]
        assert ok["content"], where
        for media in ok["content"].values():
            assert "schema" in media, where
        assert any(_media_examples(m) for m in ok["content"].values()), where
        if method == "post":
            json_body = op["requestBody"]["content"]["application/json"]
            assert json_body["schema"] and _media_examples(json_body), where
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                schema = _resolve(doc, response)["content"]["application/json"]["schema"]
                # readiness says {"ready": false}: probes read one body either way
                own = ("/V2Ready",) if path == "/v2/health/ready" else ("/FeedbackRejected",)
                assert schema["$ref"].endswith(("/Error", *own)), where
        if path in PUBLIC:
            assert op["security"] == [], where
        else:
            assert "security" not in op, where  # the global requirement applies
            assert {"401", "403", "429"} <= set(op["responses"]), where
    assert doc["security"] == [{"bearer": []}, {"apiKey": []}]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "in": "header", "name": "X-API-Key"}


def test_every_example_validates_against_its_schema(doc: dict[str, Any]) -> None:
    checked = 0
    for path, method, op in _operations(doc):
        media_types = [
            *op.get("requestBody", {}).get("content", {}).values(),
            *(
                media
                for response in op["responses"].values()
                for media in _resolve(doc, response).get("content", {}).values()
            ),
        ]
        for media in media_types:
            validator = _validator(doc, media["schema"])
            for value in _media_examples(media):
                errors = [e.message for e in validator.iter_errors(value)]
                assert not errors, (method, path, value, errors)
                checked += 1
        for param in op["parameters"]:
            validator = _validator(doc, param["schema"])
            values = [param["example"]] if "example" in param else []
            values += [e["value"] for e in param.get("examples", {}).values()]
            assert values or not param["required"], (path, param["name"])
            for value in values:
                assert validator.is_valid(value), (path, param["name"], value)
    assert checked > 40


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        ("V1PredictRequest", {"instances": [[1, 2]], "inputs": [[1, 2]]}),
        ("V1PredictRequest", {"instances": []}),
        ("V1PredictRequest", {"instances": "rows"}),
        ("V1PredictRequest", {"instances": [[1]], "parameters": {"probabilities": "yes"}}),
        ("V2InferRequest", {"inputs": []}),
        ("V2InferRequest", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP128"}]}),
        ("V2InferRequest", {"inputs": [{"name": "x", "shape": [1, 1, 1], "datatype": "FP64"}]}),
        ("V2InferRequest", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64"}]}),
        ("FeedbackRequest", {"prediction_id": "a", "label": None}),
        ("FeedbackRequest", {"prediction_id": "a", "label": 1, "extra": 2}),
    ],
)
def test_what_the_server_refuses_the_schema_refuses(
    doc: dict[str, Any], schema: str, body: Any
) -> None:
    assert not _validator(doc, {"$ref": f"#/components/schemas/{schema}"}).is_valid(body)


def _request_examples(doc: dict[str, Any], path: str) -> dict[str, Any]:
    op = doc["paths"][path]["post"]
    examples: dict[str, Any] = op["requestBody"]["content"]["application/json"]["examples"]
    return {key: e["value"] for key, e in examples.items()}


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/v1/models/{name}:predict", "/v1/models/{model}:predict"),
        ("/v2/models/{name}/infer", "/v2/models/{model}/infer"),
        ("/v2/models/{name}/versions/{version}/infer", "/v2/models/{model}/versions/1/infer"),
    ],
)
def test_the_request_examples_are_answered_as_documented(
    client: TestClient, doc: dict[str, Any], path: str, url: str
) -> None:
    responses = doc["paths"][path]["post"]["responses"]
    ok = _validator(doc, responses["200"]["content"]["application/json"]["schema"])
    examples = _request_examples(doc, path)
    assert {"credit", "numeric"} <= set(examples)  # one per served model, named by it
    for key, body in examples.items():
        # the static examples are for a credit model like the conftest's; one is NumPy-shaped
        model = "numeric" if key in ("numeric", "one_tensor") else "credit"
        response = client.post(url.format(model=model), json=body)
        assert response.status_code == 200, (key, response.text)
        errors = [e.message for e in ok.iter_errors(response.json())]
        assert not errors, (key, response.json(), errors)


def test_the_path_examples_name_the_served_models(doc: dict[str, Any]) -> None:
    (param,) = doc["paths"]["/v1/models/{name}:predict"]["post"]["parameters"]
    assert set(param["examples"]) == {"credit", "numeric"}
    version_params = doc["paths"]["/v2/models/{name}/versions/{version}"]["get"]["parameters"]
    assert set(version_params[0]["examples"]) == {"credit", "numeric"}


def test_errors_are_answered_in_the_documented_shape(
    client: TestClient, doc: dict[str, Any]
) -> None:
    error = _validator(doc, {"$ref": "#/components/schemas/Error"})
    for method, url, body in [
        ("POST", "/v1/models/nope:predict", {"instances": [[1]]}),
        ("POST", "/v1/models/credit:predict", {"instances": [{"age": "old"}]}),
        ("POST", "/v2/models/credit/infer", {"inputs": []}),
        ("GET", "/v1/models/credit:predict", None),
        ("GET", "/v2/models/nope", None),
        ("GET", "/api/deployments/nope", None),
        ("GET", "/no/such/route", None),
    ]:
        response = client.request(method, url, json=body)
        assert response.status_code >= 400
        assert error.is_valid(response.json()), (url, response.json())
    rejected = _validator(doc, {"$ref": "#/components/schemas/FeedbackRejected"})
    response = client.post("/api/feedback", json=[{"prediction_id": "x", "label": 1}, 5])
    assert response.status_code == 422
    assert rejected.is_valid(response.json()), response.json()


def test_binary_answers_have_a_documented_json_header(
    client: TestClient, doc: dict[str, Any]
) -> None:
    body = {
        "id": "bin-1",
        "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [0, 1, 2, 3]}],
        "parameters": {"binary_data_output": True},
    }
    response = client.post("/v2/models/numeric/infer", json=body)
    assert response.status_code == 200, response.text
    ok = doc["paths"]["/v2/models/{name}/infer"]["post"]["responses"]["200"]
    assert response.headers["content-type"] in ok["content"]
    length = int(response.headers["inference-header-content-length"])
    header = json.loads(response.content[:length])
    schema = ok["content"]["application/json"]["schema"]
    assert _validator(doc, schema).is_valid(header), header
    sizes = sum(o["parameters"]["binary_data_size"] for o in header["outputs"])
    assert length + sizes == len(response.content)


def one(batch: np.ndarray) -> np.ndarray:
    return np.full(len(batch), 1.0)


def test_deployments_are_answered_as_documented(tmp_path: Path, doc: dict[str, Any]) -> None:
    settings = Settings(home=tmp_path / "home", user="tester")
    sample = np.random.default_rng(0).normal(size=(20, 2))
    for _ in range(2):
        modelport.register(one, "m", sample=sample, settings=settings)
    modelport.deploy("checkout", {"m:1": 90, "m:2": 10}, sticky="header:X-User", settings=settings)
    config = ServeConfig(auth=False, refs=("m:1",), deployments=("checkout",), poll_interval=0.05)
    with TestClient(create_app(config, settings=settings)) as client:
        for path, url in [
            ("/api/deployments", "/api/deployments"),
            ("/api/deployments/{name}", "/api/deployments/checkout"),
            ("/api/deployments/{name}/history", "/api/deployments/checkout/history"),
        ]:
            response = client.get(url)
            assert response.status_code == 200, response.text
            schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"][
                "schema"
            ]
            errors = [e.message for e in _validator(doc, schema).iter_errors(response.json())]
            assert not errors, (url, response.json(), errors)


def test_the_components_are_the_modules(doc: dict[str, Any]) -> None:
    assert set(SCHEMAS) <= set(doc["components"]["schemas"])


# -- offline documentation ---------------------------------------------------------------

_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_this_server(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    for host in ("cdn.jsdelivr.net", "unpkg.com", "fonts.googleapis.com", "tiangolo.com"):
        assert host not in html, host
    urls = [a or b for a, b in _URL.findall(html)]
    assert urls, html
    assert not [u for u in urls if re.match(r"^(https?:)?//", u)], urls
    wanted = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    assets = [u for u in urls if u.startswith("/docs/static/")]
    assert any(u.endswith(".js") for u in assets), urls
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = wanted[url[url.rindex(".") :]]
        assert asset.headers["content-type"].startswith(kind), (url, asset.headers)
        assert asset.content == (STATIC / url.removeprefix("/docs/static/")).read_bytes(), url
    assert "/openapi.json" in html


def test_the_vendored_assets_carry_their_licenses() -> None:
    for name in (
        "swagger-ui/swagger-ui-bundle.js",
        "swagger-ui/swagger-ui.css",
        "swagger-ui/LICENSE",
        "swagger-ui/NOTICE",
        "redoc/redoc.standalone.js",
        "redoc/LICENSE",
    ):
        assert (STATIC / name).is_file(), name


_CHROMIUM = next(
    (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)


@pytest.mark.integration
@pytest.mark.skipif(_CHROMIUM is None, reason="no Chromium on this machine")
@pytest.mark.parametrize(
    ("page", "operation"),
    [("/docs", r'data-path="([^"]+)"'), ("/redoc", r'data-section-id="operation/([^"]+)"')],
)
def test_a_browser_without_internet_renders_every_operation(
    server: RunningServer, page: str, operation: str
) -> None:
    assert _CHROMIUM is not None
    dom = subprocess.run(
        [
            _CHROMIUM,
            "--headless",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # no other host
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{server.url}{page}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    doc = httpx.get(f"{server.url}/openapi.json").json()
    operations = sum(len(item) for item in doc["paths"].values())
    found = set(re.findall(operation, dom))
    if page == "/docs":
        assert found == set(doc["paths"]), dom[-2000:]
        assert dom.count('class="opblock-summary-method"') == operations
    else:
        assert len(found) == operations, dom[-2000:]
