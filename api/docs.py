"""`/docs`: Swagger UI served from this process (stage: api), so the API reference works on an
air-gapped NOC network — FastAPI's default page loads its JavaScript and CSS from a CDN and is
blank without Internet access.

The assets come from the `swagger-ui-py` package (a maintained PyPI package that ships the
Swagger UI 5.x `dist` files; 5.x renders the OpenAPI 3.1 documents FastAPI writes). Only its
static directory is used, mounted at `/docs-assets`; the page itself is FastAPI's own
`get_swagger_ui_html` pointed at those local files. ReDoc (another CDN page) is off.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def swagger_ui_dir() -> Path:
    """The `static` directory of the installed swagger-ui-py (without importing the package,
    whose web-framework adapters we do not use)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install swagger-ui-py")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
