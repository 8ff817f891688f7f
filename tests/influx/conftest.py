"""Fixtures for influx/ tests: the scripted stub server (helpers live in stub_server.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# --import-mode=importlib does not put test dirs on sys.path; the helper module lives here.
sys.path.insert(0, str(Path(__file__).parent))

from stub_server import Script, StubInflux  # noqa: E402


@pytest.fixture
def stub() -> Iterator[Callable[..., StubInflux]]:
    """`stub(script, port=0)` starts a scripted server; all are shut down after the test."""
    servers: list[StubInflux] = []

    def make(script: Script | None = None, port: int = 0) -> StubInflux:
        s = StubInflux(script, port) if script else StubInflux(port=port)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()
