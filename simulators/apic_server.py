"""Simulated APIC REST + websocket front end (stage: simulators — the APIC a poller talks to).

Serves the API documented in /work/shared/reference/apic-and-ept.md §2 over plain HTTP (a
simulator may use ``http://`` / ``ws://``):

* ``POST /api/aaaLogin.json`` (also ``/api/mo/aaaLogin.json``) with
  ``{"aaaUser":{"attributes":{"name":..,"pwd":..}}}`` → aaaLogin envelope + ``Set-Cookie:
  APIC-cookie=<token>``; ``GET|POST /api/aaaRefresh.json``; ``POST /api/aaaLogout.json``.
  Requests authenticate with the ``APIC-cookie`` (or ``APIC-Cookie``) cookie.  The token is a
  standard base64 string (it may contain ``+``, ``/`` and ``=`` like a real one).
* ``GET /api/class/<cls>.json``, ``/api/node/class/<cls>.json``,
  ``/api/node/class/topology/pod-1/node-101/<cls>.json``, ``/api/mo/<dn>.json``,
  ``/api/node/mo/<dn>.json`` with the options of ``apic_query.py``.
* ``?subscription=yes[&refresh-timeout=S]`` → ``subscriptionId`` (string);
  ``GET /api/subscriptionRefresh.json?id=<id>``; websocket ``/socket<token>`` delivering
  ``{"subscriptionId":[...],"imdata":[{cls:{"attributes":{...,"status":...}}}]}`` text frames
  (``modified`` frames carry only changed attributes).  Subscribing without an open socket →
  405.  Subscriptions expire after their refresh timeout (default 60 s, wall clock) and are
  dropped when the session's last socket closes.
* Error envelopes ``{"totalCount":"1","imdata":[{"error":{"attributes":{"code":..,"text":..}}}]}``
  with the HTTP status repeated in ``code``; throttling is nginx's HTML 503.

Side endpoints for tests and the demo (no auth):

* ``GET /_sim/truth[?kind=&scenario=&since=]``, ``DELETE /_sim/truth``
* ``GET /_sim/scenarios``; ``POST /_sim/scenario/{name}[?wait=1]`` (JSON body = scenario kwargs)
* ``GET|POST|DELETE /_sim/faults``, ``POST|DELETE /_sim/faults/{name}`` (see ``faults.py``)
* ``GET /_sim/clock``, ``POST /_sim/clock/advance?seconds=N``
* ``GET /_sim/status``

Python API::

    fab = SimulatedFabric.build(leafs=4, endpoints=200, seed=1)
    handle = ApicSimulator(fab).start("127.0.0.1", 0)   # 0 = pick a free port
    handle.url        # "http://127.0.0.1:PORT"
    handle.simulator.faults.set("token_timeout", count=1)
    handle.stop()

    cluster = ApicCluster(fab, size=3).start()          # three APICs, one fabric
    cluster.urls; cluster.stop_member(0); cluster.start_member(0); cluster.stop()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from simulators.apic_query import QueryEngine, QueryError, QuerySpec
from simulators.fabric import VERSION_APIC, MoEvent, SimulatedFabric
from simulators.faults import FaultInjector, churn

log = logging.getLogger(__name__)

TEXT_TOKEN_TIMEOUT = "Token was invalid (Error: Token timeout)"
TEXT_NO_COOKIE = (
    "Need a valid webtoken cookie (named APIC-Cookie) or a signed request with signature in the "
    "cookie APIC-Request-Signature for all REST API requests"
)
TEXT_BAD_LOGIN = "Username or password is incorrect - FAILED local authentication"
TEXT_NO_SOCKET = (
    "Subscription request failed, unable to locate opened web socket. Please re-login to the "
    "application"
)
NGINX_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>"
    "\r\n</body>\r\n</html>\r\n"
)
_CLOSE = "\x00close"  # sentinel on a socket queue


def parse_query(raw: bytes) -> dict[str, str]:
    """Parse a query string without turning '+' into spaces: APIC clients send filters raw
    (``eq(a.b,"x")``) or %-encoded, and both must work (reference §2.2)."""
    out: dict[str, str] = {}
    for part in raw.decode("latin-1").split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        out[unquote(k)] = unquote(v)
    return out


def envelope(imdata: list[Any], total: int | None = None, **extra: str) -> dict[str, Any]:
    body: dict[str, Any] = {"totalCount": str(len(imdata) if total is None else total)}
    body.update(extra)
    body["imdata"] = imdata
    return body


try:  # a 4M-object build is mostly JSON encoding on this side: orjson is ~5x faster
    import orjson

    def _dumps(body: Any) -> bytes | str:
        return orjson.dumps(body)

except ImportError:  # pragma: no cover - optional speed-up

    def _dumps(body: Any) -> bytes | str:
        return json.dumps(body, separators=(",", ":"))


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _dumps(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(status: int, text: str) -> Response:
    return json_response(
        envelope([{"error": {"attributes": {"code": str(status), "text": text}}}]), status
    )


@dataclass
class Subscription:
    id: str
    spec: QuerySpec
    expires: float  # wall clock
    timeout: int


@dataclass
class WsConn:
    ws: WebSocket
    queue: asyncio.Queue[str]


@dataclass
class Session:
    token: str
    user: str
    created: float
    refreshed: float
    session_id: str
    sockets: list[WsConn] = field(default_factory=list)
    subs: dict[str, Subscription] = field(default_factory=dict)


class ApicSimulator:
    """One simulated APIC controller serving a shared :class:`SimulatedFabric`."""

    def __init__(
        self,
        fabric: SimulatedFabric,
        *,
        username: str = "admin",
        password: str = "password",
        name: str = "apic1",
        node_id: int = 1,
        refresh_timeout: int = 600,
        max_lifetime: int = 86_400,
        subscription_timeout: int = 60,
        max_unpaged: int = 100_000,
        rotate_token_on_refresh: bool = False,
    ) -> None:
        self.fabric = fabric
        self.username = username
        self.password = password
        self.name = name
        self.node_id = node_id
        self.refresh_timeout = refresh_timeout
        self.max_lifetime = max_lifetime
        self.subscription_timeout = subscription_timeout
        self.rotate_token_on_refresh = rotate_token_on_refresh
        self.engine = QueryEngine(fabric, max_unpaged=max_unpaged)
        self.faults = FaultInjector()
        self.sessions: dict[str, Session] = {}
        self._sub_seq = 72_057_594_037_927_936 + node_id * 1_000_000 + (fabric.seed % 1000) * 1000
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._churn_seq = 0
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> ApicHandle:
        """Run uvicorn in a daemon thread; returns once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("already running")
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        # uvicorn only captures signals in the main thread, so a background server is safe.
        self._server = server
        self._thread = threading.Thread(
            target=server.run, name=f"apic-sim-{self.name}", daemon=True
        )
        self.fabric.add_listener(self._on_events)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulated APIC failed to start on {host}:{port}")
            time.sleep(0.01)
        sock = server.servers[0].sockets[0]
        bound = sock.getsockname()
        return ApicHandle(self, host, int(bound[1]))

    def stop(self) -> None:
        self.fabric.remove_listener(self._on_events)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        self._loop = None
        self.sessions.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None

    # ------------------------------------------------------------------ app

    def _build_app(self) -> Starlette:
        routes = [
            Route("/api/{rest:path}", self._api, methods=["GET", "POST", "DELETE"]),
            WebSocketRoute("/socket{token:path}", self._socket),
            Route("/_sim/truth", self._sim_truth, methods=["GET", "DELETE"]),
            Route("/_sim/scenarios", self._sim_scenarios, methods=["GET"]),
            Route("/_sim/scenario/{name}", self._sim_scenario, methods=["POST"]),
            Route("/_sim/faults", self._sim_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/faults/{name}", self._sim_fault_one, methods=["POST", "DELETE"]),
            Route("/_sim/clock", self._sim_clock, methods=["GET"]),
            Route("/_sim/clock/advance", self._sim_clock_advance, methods=["POST"]),
            Route("/_sim/status", self._sim_status, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    # ------------------------------------------------------------------ auth

    def _new_token(self) -> str:
        # Real tokens are standard base64 of a binary blob ("QAEAAAAA...==").
        return base64.b64encode(b"\x40\x01\x00\x00\x00\x00" + os.urandom(90)).decode()

    def _login_body(self, s: Session) -> dict[str, Any]:
        attrs = {
            "token": s.token,
            "siteFingerprint": "SimFingerprint01",
            "refreshTimeoutSeconds": str(self.refresh_timeout),
            "maximumLifetimeSeconds": str(self.max_lifetime),
            "guiIdleTimeoutSeconds": "1200",
            "restTimeoutSeconds": "90",
            "creationTime": str(int(s.created)),
            "firstLoginTime": str(int(s.created)),
            "userName": s.user,
            "remoteUser": "false",
            "unixUserId": "15374",
            "sessionId": s.session_id,
            "lastName": "",
            "firstName": "",
            "changePassword": "no",
            "version": VERSION_APIC,
            "buildTime": "Mon Jan 01 00:00:00 UTC 2024",
            "node": f"topology/pod-1/node-{self.node_id}",
        }
        children = [
            {
                "aaaUserDomain": {
                    "attributes": {"name": "all", "rolesR": "admin", "rolesW": "admin"},
                    "children": [
                        {"aaaReadRoles": {"attributes": {}}},
                        {
                            "aaaWriteRoles": {
                                "attributes": {},
                                "children": [{"role": {"attributes": {"name": "admin"}}}],
                            }
                        },
                    ],
                }
            },
            {
                "DnDomainMapEntry": {
                    "attributes": {
                        "dn": "uni/tn-common",
                        "readPrivileges": "admin",
                        "writePrivileges": "admin",
                    }
                }
            },
        ]
        return envelope([{"aaaLogin": {"attributes": attrs, "children": children}}])

    def _cookie(self, token: str) -> dict[str, str]:
        return {"Set-Cookie": f"APIC-cookie={token}; path=/; HttpOnly"}

    def _session_for(self, request: Request) -> Session | Response:
        token = request.cookies.get("APIC-cookie") or request.cookies.get("APIC-Cookie")
        if not token:
            return error_response(403, TEXT_NO_COOKIE)
        s = self.sessions.get(token)
        now = time.time()
        if (
            s is None
            or now - s.refreshed > self.refresh_timeout
            or now - s.created > self.max_lifetime
        ):
            if s is not None:
                self._drop_session(s)
            return error_response(403, TEXT_TOKEN_TIMEOUT)
        if self.faults.take("token_timeout"):
            self._drop_session(s)
            return error_response(403, TEXT_TOKEN_TIMEOUT)
        return s

    def _drop_session(self, s: Session) -> None:
        self.sessions.pop(s.token, None)
        for conn in list(s.sockets):
            conn.queue.put_nowait(_CLOSE)
        s.subs.clear()

    async def _login(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            attrs = body["aaaUser"]["attributes"]
            user, pwd = str(attrs["name"]), str(attrs.get("pwd", ""))
        except (ValueError, KeyError, TypeError):
            return error_response(400, "Failed to parse login request")
        if self.faults.take("login_fail") or user != self.username or pwd != self.password:
            return error_response(401, TEXT_BAD_LOGIN)
        now = time.time()
        s = Session(
            self._new_token(), user, now, now, base64.b64encode(secrets.token_bytes(16)).decode()
        )
        self.sessions[s.token] = s
        return json_response(self._login_body(s), headers=self._cookie(s.token))

    async def _refresh(self, request: Request) -> Response:
        s = self._session_for(request)
        if isinstance(s, Response):
            return s
        if self.faults.take("refresh_fail"):
            self._drop_session(s)
            return error_response(403, TEXT_TOKEN_TIMEOUT)
        s.refreshed = time.time()
        if self.rotate_token_on_refresh:
            self.sessions.pop(s.token, None)
            s.token = self._new_token()
            self.sessions[s.token] = s
        return json_response(self._login_body(s), headers=self._cookie(s.token))

    async def _logout(self, request: Request) -> Response:
        token = request.cookies.get("APIC-cookie") or request.cookies.get("APIC-Cookie")
        s = self.sessions.get(token or "")
        if s is not None:
            self._drop_session(s)
        return json_response(envelope([]))

    # ------------------------------------------------------------------ REST

    async def _api(self, request: Request) -> Response:
        if self.faults.take("throttle"):
            return Response(NGINX_503, status_code=503, media_type="text/html")
        slow = self.faults.take("slow")
        if slow:
            await asyncio.sleep(slow.value)
        rest = request.path_params["rest"]
        if rest.endswith(".json"):
            rest = rest[:-5]
        elif rest.endswith(".xml"):
            return error_response(400, "XML output is not supported by the simulator")
        if rest in ("aaaLogin", "mo/aaaLogin"):
            return await self._login(request)
        if rest in ("aaaRefresh", "mo/aaaRefresh"):
            return await self._refresh(request)
        if rest in ("aaaLogout", "mo/aaaLogout"):
            return await self._logout(request)
        s = self._session_for(request)
        if isinstance(s, Response):
            return s
        params = parse_query(request.scope.get("query_string", b""))
        if rest == "subscriptionRefresh":
            return self._sub_refresh(s, params)
        if request.method != "GET":
            return error_response(400, "The simulator is read-only: only GET queries are served")
        if rest.startswith("node/class/"):
            kind, target = "class", rest[len("node/class/") :]
        elif rest.startswith("class/"):
            kind, target = "class", rest[len("class/") :]
        elif rest.startswith("node/mo/"):
            kind, target = "mo", rest[len("node/mo/") :]
        elif rest.startswith("mo/"):
            kind, target = "mo", rest[len("mo/") :]
        else:
            return error_response(400, f"Request failed, unresolved class for {rest}")
        try:
            return await anyio.to_thread.run_sync(self._query, s, kind, target, params)
        except QueryError as exc:
            return error_response(exc.status, exc.text)

    def _query(self, s: Session, kind: str, target: str, params: dict[str, str]) -> Response:
        fab = self.fabric
        with fab.lock:
            spec = self.engine.parse(kind, target, params)
        if spec.page and (armed := self.faults.take("page_churn")):
            self._churn_seq += 1
            churn(fab, int(armed.value), fab.seed * 1000 + self._churn_seq)
        extra: dict[str, str] = {}
        if spec.subscription:
            if not s.sockets or self.faults.take("subscribe_405"):
                raise QueryError(405, TEXT_NO_SOCKET)
        with fab.lock:
            page = self.engine.run_json(spec)  # a build's epm page: straight to JSON text
            if page is not None:
                total, items = page
                if items and self.faults.take("empty_page"):
                    items = ""
                return Response(
                    f'{{"totalCount":"{total}","imdata":[{items}]}}'.encode(),
                    media_type="application/json",
                )
            result = self.engine.run(spec)
            if spec.subscription:
                with self._lock:
                    self._sub_seq += 1
                    sid = str(self._sub_seq)
                timeout = self._sub_timeout(spec.refresh_timeout)
                s.subs[sid] = Subscription(sid, spec, time.time() + timeout, timeout)
                extra["subscriptionId"] = sid
        imdata = result.imdata
        if imdata and self.faults.take("empty_page"):
            imdata = []
        return json_response(envelope(imdata, result.total, **extra))

    def _sub_timeout(self, requested: int | None) -> int:
        if requested is None:
            return self.subscription_timeout
        return max(30, min(36_000, requested))

    def _sub_refresh(self, s: Session, params: dict[str, str]) -> Response:
        sid = params.get("id", "")
        if self.faults.take("subscription_refresh_fail"):
            return error_response(400, "Internal Error")
        sub = s.subs.get(sid)
        now = time.time()
        if sub is None or sub.expires < now:
            s.subs.pop(sid, None)
            return error_response(
                400, f"Subscription refresh failed, subscription {sid} not found or expired"
            )
        rt = params.get("refresh-timeout")
        if rt is not None and rt.isdigit():
            sub.timeout = self._sub_timeout(int(rt))
        sub.expires = now + sub.timeout
        return json_response(envelope([]))

    # ------------------------------------------------------------------ websocket

    async def _socket(self, ws: WebSocket) -> None:
        token = ws.path_params["token"]
        s = self.sessions.get(token)
        if s is None or time.time() - s.refreshed > self.refresh_timeout:
            await ws.close(code=1008)  # before accept: the upgrade is refused with 403
            return
        self._loop = asyncio.get_running_loop()
        await ws.accept()
        conn = WsConn(ws, asyncio.Queue())
        s.sockets.append(conn)

        async def sender() -> None:
            while True:
                frame = await conn.queue.get()
                if frame == _CLOSE:
                    with contextlib.suppress(Exception):
                        await ws.close(code=1001)
                    return
                await ws.send_text(frame)

        task = asyncio.create_task(sender())
        try:
            while True:
                recv = asyncio.create_task(ws.receive())
                done, _ = await asyncio.wait({recv, task}, return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    recv.cancel()
                    break
                msg = recv.result()
                if msg["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            task.cancel()
            if conn in s.sockets:
                s.sockets.remove(conn)
            if not s.sockets:
                # The APIC ties subscriptions to the socket: a new socket needs new ones.
                s.subs.clear()

    def _on_events(self, events: list[MoEvent]) -> None:
        """Fabric listener (any thread, fabric lock held): hand over to the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._dispatch, events)

    def _dispatch(self, events: list[MoEvent]) -> None:
        if self.faults.peek("ws_close") and self.faults.take("ws_close"):
            for s in self.sessions.values():
                for conn in list(s.sockets):
                    conn.queue.put_nowait(_CLOSE)
            return
        silent = self.faults.peek("ws_silent") is not None
        now = time.time()
        for s in list(self.sessions.values()):
            if not s.sockets or not s.subs:
                continue
            live = [sub for sub in s.subs.values() if sub.expires >= now]
            for ev in events:
                ids = [sub.id for sub in live if self.engine.event_matches(sub.spec, ev)]
                if not ids:
                    continue
                if silent:
                    self.faults.take("ws_silent")
                    continue
                frame = json.dumps(
                    {"subscriptionId": ids, "imdata": [{ev.cls: {"attributes": ev.frame_attrs()}}]},
                    separators=(",", ":"),
                )
                for conn in s.sockets:
                    conn.queue.put_nowait(frame)

    def close_sockets(self) -> None:
        """Close every open websocket now (what the ``ws_close`` fault does)."""
        loop = self._loop
        if loop is None:
            return

        def do() -> None:
            for s in self.sessions.values():
                for conn in list(s.sockets):
                    conn.queue.put_nowait(_CLOSE)

        loop.call_soon_threadsafe(do)

    # ------------------------------------------------------------------ side API

    async def _json_body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("JSON object expected")
        return data

    async def _sim_truth(self, request: Request) -> Response:
        fab = self.fabric
        if request.method == "DELETE":
            with fab.lock:
                fab.truth.clear()
            return json_response({"records": []})
        q = request.query_params
        since = float(q.get("since", "0") or 0)
        with fab.lock:
            recs = [
                r.as_dict()
                for r in fab.truth
                if r.time >= since
                and (not q.get("kind") or r.kind == q["kind"])
                and (not q.get("scenario") or r.scenario == q["scenario"])
            ]
        return json_response({"records": recs, "count": len(recs)})

    async def _sim_scenarios(self, request: Request) -> Response:
        eng = self.fabric.scenarios
        return json_response({"scenarios": eng.names(), "runs": eng.run_summaries()})

    async def _sim_scenario(self, request: Request) -> Response:
        name = request.path_params["name"]
        eng = self.fabric.scenarios
        if name not in eng.names():
            return json_response(
                {"error": f"unknown scenario {name!r}", "scenarios": eng.names()}, 404
            )
        try:
            kwargs = await self._json_body(request)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        wait = request.query_params.get("wait", "0") in ("1", "true", "yes")
        try:
            if wait:
                recs = await anyio.to_thread.run_sync(lambda: eng.run(name, **kwargs))
                return json_response({"name": name, "records": [r.as_dict() for r in recs]})
            run = await anyio.to_thread.run_sync(lambda: eng.start(name, **kwargs))
            # Fire the steps due now even on a manual clock (live clocks have a ticker).
            await anyio.to_thread.run_sync(self.fabric.clock.run_due)
        except (TypeError, ValueError, KeyError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response({"name": name, "run": run.id, "ends_at": run.ends_at}, 202)

    async def _sim_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                body = await self._json_body(request)
                self._arm(str(body["name"]), body.get("count"), body.get("value"))
            except (ValueError, KeyError, TypeError) as exc:
                return json_response({"error": str(exc)}, 422)
        return json_response(self.faults.state())

    async def _sim_fault_one(self, request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "DELETE":
            self.faults.clear(name)
            return json_response(self.faults.state())
        q = request.query_params
        try:
            self._arm(name, q.get("count"), q.get("value"))
        except (ValueError, KeyError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(self.faults.state())

    def _arm(self, name: str, count: Any, value: Any) -> None:
        if name == "ws_close":
            # An action, not a state: close now (and also on the next event dispatch if armed
            # before any socket existed).
            self.close_sockets()
            return
        self.faults.set(
            name,
            None if count in (None, "") else int(count),
            None if value in (None, "") else float(value),
        )

    async def _sim_clock(self, request: Request) -> Response:
        clk = self.fabric.clock
        return json_response(
            {"now": clk.now(), "speed": clk.speed, "pending_timers": clk.pending()}
        )

    async def _sim_clock_advance(self, request: Request) -> Response:
        try:
            seconds = float(request.query_params.get("seconds", "0"))
        except ValueError:
            return json_response({"error": "seconds must be a number"}, 422)
        await anyio.to_thread.run_sync(lambda: self.fabric.clock.advance(seconds))
        return await self._sim_clock(request)

    async def _sim_status(self, request: Request) -> Response:
        with self.fabric.lock:
            counts = self.fabric.counts()
        return json_response(
            {
                "name": self.name,
                "counts": counts,
                "sessions": len(self.sessions),
                "sockets": sum(len(s.sockets) for s in self.sessions.values()),
                "subscriptions": sum(len(s.subs) for s in self.sessions.values()),
                "faults": self.faults.state(),
            }
        )


@dataclass
class ApicHandle:
    simulator: ApicSimulator
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def stop(self) -> None:
        self.simulator.stop()


class ApicCluster:
    """2-3 APICs on different ports over the same fabric; members can be stopped/restarted."""

    def __init__(self, fabric: SimulatedFabric, size: int = 3, **kwargs: Any) -> None:
        self.fabric = fabric
        self.members = [
            ApicSimulator(fabric, name=f"apic{i + 1}", node_id=i + 1, **kwargs) for i in range(size)
        ]
        self.handles: list[ApicHandle | None] = [None] * size
        self.ports: list[int] = [0] * size
        self.host = "127.0.0.1"

    def start(self, host: str = "127.0.0.1", ports: list[int] | None = None) -> ApicCluster:
        self.host = host
        for i in range(len(self.members)):
            self.start_member(i, ports[i] if ports else 0)
        return self

    def start_member(self, i: int, port: int | None = None) -> ApicHandle:
        h = self.members[i].start(self.host, port if port is not None else self.ports[i])
        self.handles[i] = h
        self.ports[i] = h.port
        return h

    def stop_member(self, i: int) -> None:
        self.members[i].stop()
        self.handles[i] = None

    @property
    def urls(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.ports]

    def stop(self) -> None:
        for i, h in enumerate(self.handles):
            if h is not None:
                self.stop_member(i)
