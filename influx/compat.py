"""Settings → connection parameters per InfluxDB major version (influxdb-and-grafana.md §1-2).

Writes always go through influxdb-client to ``/api/v2/write``; InfluxQL reads go to ``/query``.
What differs between servers is only how the same four settings (url, token, org, bucket) are
spelled on the wire:

=====  ======================================  ===============================================
major  write (influxdb-client)                 InfluxQL ``/query``
=====  ======================================  ===============================================
1      token ``user:password`` (or empty when  db/rp from bucket ``db/rp`` (no ``/``: the DB's
       auth is off), org ``-`` (ignored),      default RP); HTTP Basic auth with user and
       bucket ``db`` or ``db/rp``              password (kept out of the URL and access logs)
2      token, org and bucket as set            virtual DBRP (2.4+): bucket ``b`` → db ``b``, rp
                                               ``autogen`` (left out: the default mapping);
                                               bucket ``db/rp`` → db ``db``, rp ``rp``;
                                               ``Authorization: Token <token>``
3      token and bucket (= database); org is   db = bucket; ``Authorization: Token <token>``
       ignored by the server
=====  ======================================  ===============================================

Deleting points differs too (``influx.reads.delete_move_finding``, version from ``/ping`` via
``InfluxQuery.server_major``): 1.x InfluxQL ``DELETE`` on ``/query``; 2.x ``POST /api/v2/delete``
with org, bucket and the token; 3.x cannot delete single points at all.

The token never appears in ``repr()`` of the returned objects, so logging them is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import SecretStr

SUPPORTED_MAJORS = (1, 2, 3)


class InfluxSettings(Protocol):
    """The part of `fabricscope.settings.Settings` this module reads."""

    @property
    def influx_url(self) -> str: ...
    @property
    def influx_token(self) -> SecretStr: ...
    @property
    def influx_org(self) -> str: ...
    @property
    def influx_bucket(self) -> str: ...


class CompatError(ValueError):
    """The settings cannot work with that server version (message never contains a secret)."""


@dataclass(frozen=True)
class WriteParams:
    """Keyword arguments for ``influxdb_client.InfluxDBClient`` plus the bucket to write to."""

    url: str
    token: str = field(repr=False)
    org: str
    bucket: str

    def client_kwargs(self) -> dict[str, str]:
        return {"url": self.url, "token": self.token, "org": self.org}


@dataclass(frozen=True)
class QueryParams:
    """One InfluxQL request: ``POST {url}/query`` with ``params(q)``, ``headers`` and ``auth``."""

    url: str  # base URL, no trailing slash; the endpoint is f"{url}/query"
    db: str
    rp: str  # "" → the database's default retention policy / default DBRP mapping
    headers: dict[str, str] = field(repr=False)
    auth: tuple[str, str] | None = field(repr=False)  # HTTP Basic (1.x user:password)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/query"

    def params(self, q: str, *, epoch: str = "ms") -> dict[str, str]:
        """Query-string/form parameters for one statement (credentials are never among them)."""
        out = {"db": self.db, "q": q, "epoch": epoch}
        if self.rp:
            out["rp"] = self.rp
        return out


def _check(settings: InfluxSettings, major: int, url: str | None) -> tuple[str, str]:
    if major not in SUPPORTED_MAJORS:
        raise CompatError(f"unsupported InfluxDB major version {major!r} (expected 1, 2 or 3)")
    base = (url if url is not None else settings.influx_url).strip().rstrip("/")
    if not base:
        raise CompatError(
            "FABRICSCOPE_INFLUX_URL is empty (the managed local InfluxDB sets it at start)"
        )
    if not settings.influx_bucket:
        raise CompatError("FABRICSCOPE_INFLUX_BUCKET is empty")
    return base, settings.influx_token.get_secret_value()


def split_v1_token(token: str) -> tuple[str, str] | None:
    """``user:password`` → (user, password); empty → None (auth off); else CompatError."""
    if not token:
        return None
    user, sep, password = token.partition(":")
    if not sep or not user:
        raise CompatError(
            "InfluxDB 1.x needs FABRICSCOPE_INFLUX_TOKEN as 'user:password' (or empty when "
            "auth is disabled); the configured token has no 'user:' part"
        )
    return user, password


def split_bucket(bucket: str) -> tuple[str, str]:
    """``db/rp`` → (db, rp); ``db`` → (db, ""). Both 1.8's bucket mapping and 2.x virtual DBRP."""
    db, _, rp = bucket.partition("/")
    if not db:
        raise CompatError(f"bucket {bucket!r} has an empty database part")
    return db, rp


def write_params(settings: InfluxSettings, major: int, *, url: str | None = None) -> WriteParams:
    """What to hand influxdb-client for ``/api/v2/write`` on a server of that major version."""
    base, token = _check(settings, major, url)
    if major == 1:
        split_v1_token(token)  # validate the user:password form early, with a clear message
        split_bucket(settings.influx_bucket)
        return WriteParams(base, token, "-", settings.influx_bucket)
    if major == 2 and not token:
        raise CompatError("InfluxDB 2.x needs an API token in FABRICSCOPE_INFLUX_TOKEN")
    return WriteParams(base, token, settings.influx_org, settings.influx_bucket)


def query_params(settings: InfluxSettings, major: int, *, url: str | None = None) -> QueryParams:
    """How to run InfluxQL on ``/query`` against a server of that major version."""
    base, token = _check(settings, major, url)
    if major == 1:
        db, rp = split_bucket(settings.influx_bucket)
        return QueryParams(base, db, rp, {}, split_v1_token(token))
    if major == 2 and not token:
        raise CompatError("InfluxDB 2.x needs an API token in FABRICSCOPE_INFLUX_TOKEN")
    headers = {"Authorization": f"Token {token}"} if token else {}  # 3.x: --without-auth
    if major == 2:
        # Virtual DBRP (2.4+): every bucket answers as a database named like the bucket
        # (rp autogen), and a bucket named "db/rp" answers as db with that rp.
        db, rp = split_bucket(settings.influx_bucket)
        return QueryParams(base, db, rp, headers, None)
    return QueryParams(base, settings.influx_bucket, "", headers, None)
