"""The OpenAPI document: FastAPI's for the ordinary routes, by hand for the raw hot routes.

The prediction routes bypass FastAPI (see :mod:`.app`), so FastAPI cannot describe them;
they are added here with their parameters and error responses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from modelport.serving.protocols import v1, v2

JSON = "application/json"


#: every error body is {"error": message, "code": ..., "problems": [...] for 422}
_ERROR_RESPONSES: dict[str, dict[str, str]] = {
    "400": {"description": "malformed request"},
    "404": {"description": "model not served"},
    "413": {"description": "body too large"},
    "422": {"description": "input does not match the signature, or has no rows"},
    "503": {"description": "overloaded"},
}
_RAW_ROUTE_DOCS: dict[str, dict[str, Any]] = {
    "/v1/models/{name}:predict": {
        "post": {
            "tags": ["v1"],
            "summary": "Predict (KServe V1 / TF-Serving JSON)",
            "description": v1.__doc__,
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "name, name:3 or name@alias (URL-encoded)",
                }
            ],
            "requestBody": {"content": {JSON: {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "predictions"}, **_ERROR_RESPONSES},
        }
    },
}
for _path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
    _params = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    if "{version}" in _path:
        _params.append(
            {
                "name": "version",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "a version number or an alias",
            }
        )
    _RAW_ROUTE_DOCS[_path] = {
        "post": {
            "tags": ["v2"],
            "summary": "Infer (Open Inference Protocol)",
            "description": v2.__doc__,
            "parameters": _params,
            "requestBody": {"content": {JSON: {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "outputs predict and predict_proba"},
                **_ERROR_RESPONSES,
            },
        }
    }


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The document for /openapi.json, built once."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("paths", {}).update(_RAW_ROUTE_DOCS)
        app.openapi_schema = schema
    return app.openapi_schema
