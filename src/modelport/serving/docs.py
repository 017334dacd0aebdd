"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files in the package: they work offline.

FastAPI's own pages load both from a public CDN (and a favicon and fonts from other hosts),
so on a machine without internet access they stay blank. The assets are vendored
unchanged under ``static/`` with their licenses (versions in ``static/VENDORED.md``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
#: under /docs so one prefix covers the documentation (for an auth rule or a proxy)
STATIC_URL = "/docs/static"


def add_docs_routes(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve the vendored assets and the two documentation pages."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="docs-static")
    favicon = f"{STATIC_URL}/swagger-ui/favicon-32x32.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{STATIC_URL}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=favicon,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{STATIC_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
