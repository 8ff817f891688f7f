"""Write stage, setup side: detect the InfluxDB flavour and create the bucket/database if missing.

influxdb-client cannot run InfluxQL (reference/influxdb-and-grafana.md §1), so on 1.x the database
is created with a raw ``POST /query`` ``CREATE DATABASE`` (idempotent on 1.x). On 2.x the
BucketsApi is used. 3.x creates databases on first write, so nothing is done there.

Detection: ``/ping`` returns ``X-Influxdb-Version``; a self-built influxd reports ``unknown``, so
when the header is not conclusive ``GET /api/v2/setup`` (2.x only, no auth needed) decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)


class AdminError(RuntimeError):
    """The server answered but the bucket/database could not be ensured (e.g. no permission)."""


@dataclass(frozen=True)
class ServerInfo:
    major: int  # 1, 2 or 3 (0 when it did not answer)
    version: str  # X-Influxdb-Version as sent ("unknown" for a self-built 1.8)
    build: str  # X-Influxdb-Build, e.g. "OSS"


def auth_headers(token: str) -> dict[str, str]:
    """`Authorization: Token …` — 1.8+ parses `user:password` tokens, 2.x/3.x take API tokens."""
    return {"Authorization": f"Token {token}"} if token else {}


def major_from_version(version: str) -> int | None:
    """`1.8.10`, `v2.7.10`, `3.0.1` → 1, 2, 3; None when the text does not say (`unknown`)."""
    v = version.strip().lstrip("vV")
    if v[:2] in ("1.", "2.", "3."):
        return int(v[0])
    return None


def server_info(
    url: str, *, timeout: float = 5.0, token: str = "", client: httpx.Client | None = None
) -> ServerInfo:
    """Ask `/ping` (and `/api/v2/setup` when needed); raises httpx.HTTPError when unreachable.

    `token` is sent because InfluxDB 3 authenticates `/ping` unless told not to: without it the
    answer carries no version and a 3.x server would pass for 1.x. `client`: reuse a client
    (its own headers and transport) instead of opening one."""
    url = url.rstrip("/")
    http = client if client is not None else httpx.Client(timeout=timeout)
    try:
        resp = http.get(f"{url}/ping", headers=auth_headers(token))
        version = resp.headers.get("X-Influxdb-Version", "unknown")
        build = resp.headers.get("X-Influxdb-Build", "")
        major = major_from_version(version)
        if major is None:
            setup = http.get(f"{url}/api/v2/setup")
            major = 2 if setup.status_code == 200 else 1
    finally:
        if client is None:
            http.close()
    return ServerInfo(major, version, build)


def split_bucket(bucket: str) -> tuple[str, str]:
    """`db/rp` → (db, rp); `db` → (db, '') — the 1.8 compatibility mapping of bucket names."""
    db, _, rp = bucket.partition("/")
    return db, rp


def ensure_bucket(
    url: str, token: str, org: str, bucket: str, *, timeout: float = 10.0
) -> ServerInfo:
    """Create the bucket (2.x) or database (1.x) when missing. Raises AdminError on refusal,
    httpx.HTTPError when the server is unreachable."""
    url = url.rstrip("/")
    info = server_info(url, timeout=timeout, token=token)
    if info.major == 1:
        from influx.query import quote_ident  # one owner of InfluxQL quoting

        db, _ = split_bucket(bucket)
        with httpx.Client(timeout=timeout) as http:
            resp = http.post(
                f"{url}/query",
                data={"q": f"CREATE DATABASE {quote_ident(db)}"},
                headers=auth_headers(token),
            )
        if resp.status_code != 200 or '"error"' in resp.text:
            raise AdminError(
                f"CREATE DATABASE {db!r} failed: HTTP {resp.status_code} {resp.text[:200]}"
            )
        return info
    if info.major == 2:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.rest import ApiException

        try:
            with InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout * 1000)) as cl:
                api = cl.buckets_api()
                if api.find_bucket_by_name(bucket) is None:
                    api.create_bucket(bucket_name=bucket, org=org)
                    log.info("created bucket %r in org %r", bucket, org)
        except ApiException as exc:
            raise AdminError(f"ensuring bucket {bucket!r} failed: HTTP {exc.status}") from exc
    return info
