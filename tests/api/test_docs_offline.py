"""`/docs` works without Internet access (issue 12): Swagger UI's assets come from this server,
never from a CDN. Checked in headless Chromium, which records every request the page makes."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from tests.api.test_ui_browser import CHROMIUM, Page, page, server  # noqa: F401 (fixtures)


def test_docs_page_references_only_local_assets(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert asset in html
        a = client.get(asset)
        assert a.status_code == 200 and len(a.content) > 10_000, asset
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium")
def test_swagger_ui_renders_with_only_local_requests(server: str, page: Page) -> None:  # noqa: F811
    page.call("Network.enable")
    page.call("Page.enable")
    page.call("Page.navigate", url=server + "/docs")
    # Rendered: the operations of the API are listed (Swagger UI built them from /openapi.json).
    page.wait_for("document.querySelectorAll('.opblock').length >= 9", timeout=30)
    text = page.eval("document.body.innerText")
    assert "/api/v1/moves" in text and "/api/v1/health" in text
    # Every request the page made went to this server (drain the recorded CDP events).
    urls: list[str] = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            msg = json.loads(page.ws.recv(timeout=0.2))
        except TimeoutError:
            break
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    urls += page.eval(
        "performance.getEntriesByType('resource').map(e => e.name).concat([location.href])"
    )
    assert any(u.endswith("/docs-assets/swagger-ui-bundle.js") for u in urls), urls
    foreign = [u for u in urls if not u.startswith(server) and not u.startswith("data:")]
    assert not foreign, foreign
