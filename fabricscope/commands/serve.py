"""`fabricscope serve`: the FastAPI JSON API and web UI under uvicorn (stage: CLI wiring)."""

from __future__ import annotations

import argparse
import socket
import sys

from fabricscope.errors import UserError, bind_error

_FIX = "choose another with --listen or FABRICSCOPE_API_LISTEN"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("serve", help="HTTP API (/api/v1, /docs) and web UI (/)")
    p.add_argument("--listen", dest="api_listen", help="host:port (default 127.0.0.1:8080)")
    p.add_argument("--influx-url")
    p.add_argument("--influx-token", help="prefer FABRICSCOPE_INFLUX_TOKEN")
    p.add_argument("--influx-bucket", help="bucket / InfluxQL database")
    p.add_argument("--api-key", help="prefer FABRICSCOPE_API_KEY (visible in ps otherwise)")
    p.add_argument("--grafana-url", help="Grafana base URL for the UI's dashboard links")
    p.set_defaults(handler=run_serve)


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `:port` → (host, port); ValueError with a message."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid listen address {listen!r}: expected host:port")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from fabricscope.settings import load_settings
    from fabricscope.wiring import resolve_influx_url

    settings = resolve_influx_url(
        load_settings(
            api_listen=args.api_listen,
            influx_url=args.influx_url,
            influx_token=args.influx_token,
            influx_bucket=args.influx_bucket,
            api_key=args.api_key,
            grafana_url=args.grafana_url,
        )
    )
    try:
        host, port = split_listen(settings.api_listen)
    except ValueError as exc:
        raise UserError(f"{exc} (--listen / FABRICSCOPE_API_LISTEN)") from None
    # Bind before announcing anything: a port in use is one clear error, not a URL that then
    # fails. uvicorn serves on this very socket, so nothing can take the port in between.
    sock = listen_socket(host, port)
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"fabricscope API and UI on http://{shown}:{port}/ (docs at /docs)\n")
    config = uvicorn.Config(app, log_level="info", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (SO_REUSEADDR, as uvicorn sets), or a UserError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise bind_error("tcp", host, port, exc, _FIX) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise bind_error("tcp", host, port, exc, _FIX) from None
    sock.set_inheritable(True)
    return sock
