"""`fabricscope serve`: the FastAPI JSON API and web UI under uvicorn (stage: CLI wiring)."""

from __future__ import annotations

import argparse
import sys


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
        sys.stderr.write(f"fabricscope serve: {exc}\n")
        return 2
    app = create_app(settings)
    sys.stderr.write(f"fabricscope API and UI on http://{host}:{port}/ (docs at /docs)\n")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    return 0
