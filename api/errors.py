"""How failures reach a client (stage: api): one place that turns every expected failure into a
clear 4xx/503 — JSON for `/api/…`, the error page for UI pages — and never echoes InfluxDB's own
error text (it names server internals and helps nobody act).

- a bad parameter (FastAPI's validation, our parsers, `QueryValueError` from deep in the query
  layer) → 422 naming the parameter when known;
- InfluxDB unreachable or not ready → 503 with what to check; rejected query → 502 (a bug: the
  full text goes to the server log only).

`reject_control_chars` is the app-wide dependency that refuses C0 control characters and DEL in
any query or path parameter: no MAC, IP, fabric, cause or agent contains one, and NUL/CR cannot
even be written in an InfluxQL literal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import Throttled
from influx.query import InfluxQueryError, QueryValueError

log = logging.getLogger(__name__)


def influx_unavailable(exc: InfluxQueryError) -> bool:
    """Down (connection refused, timeout, 5xx) or not ready (database not created yet): a 503,
    worth retrying. Anything else is a rejected query: 502, a bug to report."""
    msg = str(exc)
    return (
        msg.startswith("InfluxDB unreachable")
        or (exc.status is not None and exc.status >= 500)
        or "database not found" in msg
    )


def unavailable_detail(exc: InfluxQueryError) -> str:
    """Our own words for a 503: what is wrong and what to check (no server text)."""
    msg = str(exc)
    if "database not found" in msg:
        return (
            "InfluxDB unavailable: database not found (the collector, poller or "
            "`fabricscope influxdb start` creates it)"
        )
    if msg.startswith("InfluxDB unreachable"):
        return "InfluxDB unavailable: cannot connect; check that it runs and FABRICSCOPE_INFLUX_URL"
    return f"InfluxDB unavailable: it answered HTTP {exc.status}; try again shortly"


REJECTED_DETAIL = "InfluxDB rejected the query; the server log has the details"


def _control_char(value: str) -> str | None:
    for ch in value:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"U+{ord(ch):04X}"
    return None


def invalid(param: str, message: str, where: str = "query") -> RequestValidationError:
    """A 422 naming the parameter, in FastAPI's own error shape."""
    return RequestValidationError([{"loc": (where, param), "msg": message, "type": "value_error"}])


def reject_control_chars(request: Request) -> None:
    """422 when any query or path parameter holds a control character (applied app-wide)."""
    items: list[tuple[str, str, str]] = [("query", k, v) for k, v in request.query_params.items()]
    items += [("path", k, str(v)) for k, v in request.path_params.items()]
    for where, name, value in items:
        code = _control_char(value)
        if code is not None:
            raise invalid(
                name, f"{name} contains a control character ({code}); remove it", where=where
            )


def is_ui(request: Request) -> bool:
    """Pages a person reads in a browser (not the JSON API, not /docs)."""
    path = request.url.path
    return path == "/" or path.startswith("/ui/")


def _messages(errors: Sequence[Any]) -> str:
    out = []
    for e in errors:
        loc = [str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body")]
        msg = str(e.get("msg", ""))
        out.append(f"{loc[-1]}: {msg}" if loc and loc[-1] not in msg else msg)
    return "; ".join(out)


def install(app: FastAPI, templates: Jinja2Templates) -> None:
    """Register the handlers on `app`."""

    def page(request: Request, title: str, message: str, status: int) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "error.html", {"title": title, "message": message}, status_code=status
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if is_ui(request):
            return page(request, "Bad request", _messages(exc.errors()), 422)
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(QueryValueError)
    async def bad_value(request: Request, exc: QueryValueError) -> Response:
        if is_ui(request):
            return page(request, "Bad request", str(exc), 422)
        err = {"loc": ["query"], "msg": str(exc), "type": "value_error"}
        return JSONResponse({"detail": [err]}, status_code=422)

    @app.exception_handler(Throttled)
    async def throttled(request: Request, exc: Throttled) -> Response:
        detail = f"too many failed attempts from this address; retry in {exc.retry_after} s"
        headers = {"Retry-After": str(exc.retry_after)}
        if is_ui(request):
            resp: Response = page(request, "Too many attempts", detail, 429)
            resp.headers.update(headers)
            return resp
        return JSONResponse({"detail": detail}, status_code=429, headers=headers)

    @app.exception_handler(InfluxQueryError)
    async def influx_error(request: Request, exc: InfluxQueryError) -> Response:
        if influx_unavailable(exc):
            log.warning("InfluxDB unavailable: %s", exc)
            status, detail, title = 503, unavailable_detail(exc), "InfluxDB unavailable"
        else:
            log.error("InfluxDB rejected a query: %s", exc)
            status, detail, title = 502, REJECTED_DETAIL, "Query failed"
        if is_ui(request):
            return page(request, title, detail, status)
        return JSONResponse({"detail": detail}, status_code=status)
