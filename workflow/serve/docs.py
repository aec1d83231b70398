"""The OpenAPI page at ``/docs`` served with Swagger UI's own files from the ``swagger-ui-bundle`` wheel.

FastAPI's default page loads Swagger UI from a CDN, which an offline machine cannot reach;
here the script and stylesheet come from this server, so ``/docs`` works with no network.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = "/docs/assets"


def swagger_ui_folder() -> Path:
    """The folder holding ``swagger-ui-bundle.js`` and ``swagger-ui.css``."""
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI over ``/openapi.json``) with assets from this server only."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_folder()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )
