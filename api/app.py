"""The FastAPI application (stage: api): JSON API under /api/v1, web UI at /, OpenAPI at /docs.

`create_app(settings, query=None)` builds the app; the lifespan opens the `InfluxQuery` (or uses
the one passed in, e.g. by tests) and closes it on shutdown only when it opened it itself.
Failures become 422/503/502 with a message of our own, never a 500 (api/errors.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import docs, errors
from api.auth import Revocations
from api.deps import LoginRequired, require_api_key, require_ui_login
from api.routes import endpoints, events, health, incidents, login, sflow, ui
from api.routes.ui import templates
from api.throttle import FailureThrottle
from fabricscope.settings import Settings
from influx.query import InfluxQuery
from influx.reads import ApiQueries

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


def make_query(settings: Settings) -> InfluxQuery:
    return InfluxQuery(
        settings.influx_url,
        settings.influx_token.get_secret_value(),
        settings.influx_bucket,
        timeout_s=10.0,
    )


def create_app(settings: Settings, query: InfluxQuery | None = None) -> FastAPI:
    owned = query is None
    iq = query if query is not None else make_query(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                await iq.aclose()

    app = FastAPI(
        title="fabricscope",
        version="0.1.0",
        description="Endpoint moves, anomalies and sFlow metrics of ACI fabrics, from InfluxDB.",
        lifespan=lifespan,
        # /docs is ours (api/docs.py): Swagger UI from a local package, not from a CDN.
        docs_url=None,
        redoc_url=None,
        # Every route, API and UI: no parameter may carry a control character (api/errors.py).
        dependencies=[Depends(errors.reject_control_chars)],
    )
    # State is set here rather than in the lifespan so the app also works without it running
    # (e.g. httpx.ASGITransport in tests, which does not send lifespan events).
    app.state.queries = ApiQueries(iq)
    app.state.api_key = settings.api_key.get_secret_value()
    app.state.grafana_url = settings.grafana_url
    app.state.revocations = Revocations()  # sessions logged out (api/auth.py)
    app.state.throttle = FailureThrottle()  # wrong keys per client (api/throttle.py)

    errors.install(app, templates)

    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(exc.location, status_code=303)

    # Auth policy in one place: health is open (load balancers), JSON wants the key (header or
    # UI session cookie), UI pages send a browser to the login page, which itself is open.
    auth = [Depends(require_api_key)]
    app.include_router(health.router, prefix="/api/v1")
    for r in (endpoints.router, events.router, incidents.router, sflow.router):
        app.include_router(r, prefix="/api/v1", dependencies=auth)
    app.include_router(ui.router, dependencies=[Depends(require_ui_login)])
    app.include_router(login.router)
    docs.install(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
