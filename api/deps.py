"""Request dependencies (stage: api): API-key auth (rules in api/auth.py), shared list
parameters, the query object.

Validation errors are raised as `RequestValidationError` so every bad parameter — whether caught
by FastAPI's own typing or by our parsers (times, durations) — gets the same 422 body shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request

from api.auth import authorized, login_url
from api.errors import invalid as invalid  # re-exported: routes import it from here
from influx.query import time_range
from influx.reads import ApiQueries, Window

MAX_LIMIT = 1000
MAX_OFFSET = 100_000


def get_queries(request: Request) -> ApiQueries:
    queries: ApiQueries = request.app.state.queries
    return queries


def require_api_key(
    request: Request,
    x_api_key: Annotated[str | None, Header(description="API key (FABRICSCOPE_API_KEY)")] = None,
) -> None:
    """401 unless X-API-Key equals the configured key or the request carries a valid UI session
    cookie (no key configured: open). The header parameter is declared so OpenAPI shows it."""
    del x_api_key  # read by `authorized` from the request, together with the cookie
    if not authorized(request):
        raise HTTPException(
            status_code=401,
            detail="missing or invalid X-API-Key header",
            headers={"WWW-Authenticate": "ApiKey"},
        )


class LoginRequired(Exception):
    """A UI page was asked for without credentials: answered with a redirect to the login page
    (api/app.py installs the handler)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def require_ui_login(request: Request) -> None:
    """UI pages: like `require_api_key`, but a browser gets the login page instead of a 401."""
    if not authorized(request):
        raise LoginRequired(login_url(request))


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")] = 0,
) -> Page:
    return Page(limit, offset)


def make_window(since: str | None, until: str | None, fabric: str | None) -> Window:
    """Parse since/until into a quoted time clause; 422 naming the bad parameter."""
    for name, value in (("since", since), ("until", until)):
        if value is not None:
            try:
                time_range(value if name == "since" else None, value if name == "until" else None)
            except ValueError as exc:
                raise invalid(name, str(exc)) from None
    try:
        clause = time_range(since, until)
    except ValueError as exc:
        raise invalid("since", str(exc)) from None
    if fabric is not None and not fabric.strip():
        raise invalid("fabric", "fabric must not be empty")
    return Window(clause, fabric)


def window_params(
    since: Annotated[
        str,
        Query(
            max_length=64, description="start: RFC 3339 (2024-05-01T12:00:00Z) or relative (-1h)"
        ),
    ] = "-24h",
    until: Annotated[
        str | None, Query(max_length=64, description="end (exclusive): RFC 3339 or relative")
    ] = None,
    fabric: Annotated[str | None, Query(max_length=256, description="fabric name tag")] = None,
) -> Window:
    return make_window(since, until, fabric)


QueriesDep = Annotated[ApiQueries, Depends(get_queries)]
PageDep = Annotated[Page, Depends(page_params)]
WindowDep = Annotated[Window, Depends(window_params)]
AddrQuery = Annotated[
    str | None, Query(min_length=1, max_length=128, description="endpoint MAC or IP (exact)")
]
