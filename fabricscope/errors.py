"""Errors a person can act on (stage: CLI wiring).

A `UserError` is a problem the user can fix — a missing file, a port in use, a malformed URL.
`fabricscope.cli.main` prints it as one line, `fabricscope: error: <message>`, and exits with its
code; the traceback only with `-v`. Raise it where the context is known, so the message names the
thing (the file, the address, the URL) and says what to do.
"""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit


class UserError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def bind_error(kind: str, host: str, port: int, exc: OSError, fix: str) -> UserError:
    """`cannot listen on udp 0.0.0.0:6343: address already in use; <fix>` for a failed bind."""
    where = f"{kind} {'[' + host + ']' if ':' in host else host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        why = "address already in use (another process listens there)"
    elif isinstance(exc, socket.gaierror) or exc.errno in (
        errno.EADDRNOTAVAIL,
        errno.EAFNOSUPPORT,
    ):
        why = "no such address on this machine (use 0.0.0.0, 127.0.0.1 or a local address)"
    elif exc.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    else:
        why = exc.strerror or str(exc)
    return UserError(f"cannot listen on {where}: {why}; {fix}")


def check_influx_url(url: str, source: str = "FABRICSCOPE_INFLUX_URL / --influx-url") -> str:
    """`url` when it is an http(s) URL with a host (and a valid port), else a UserError naming it.

    Checked up front: a malformed URL would otherwise be retried forever by the writer."""
    hint = f"invalid InfluxDB URL {url!r} ({source}): expected e.g. http://127.0.0.1:8086"
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # ValueError when not a number or out of range
    except ValueError as exc:
        raise UserError(f"{hint} ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UserError(f"{hint} (the scheme must be http or https)")
    if not parts.hostname:
        raise UserError(f"{hint} (no host)")
    if port == 0:
        raise UserError(f"{hint} (port 0)")
    if parts.query or parts.fragment:
        raise UserError(f"{hint} (no query string or fragment)")
    return url
