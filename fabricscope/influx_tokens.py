"""Scoped InfluxDB 2.x tokens for the compose stack (deployment stage: the `influx-tokens` init).

InfluxDB 2.x's first start (DOCKER_INFLUXDB_INIT_MODE=setup) creates only the operator (admin)
token. This one-shot step, run by docker-compose.yml before the services start, uses that admin
token to make two least-privilege authorizations on the bucket and hands their values over in
files on volumes that only their users mount:

- ``<rw-dir>/token``: read + write on the bucket, for the collector, poller, analyzers and API
  (``FABRICSCOPE_INFLUX_TOKEN_FILE``);
- ``<ro-dir>/token``: read on the bucket, for Grafana's datasource.

Idempotent: a token whose authorization still exists and is active is kept; a missing, deleted
or inactive one is made anew. ``--rotate`` makes new ones, swaps the files, then deletes the old
authorizations. Nothing secret is ever printed.

    python -m fabricscope.influx_tokens [--rotate]      (the compose service's command)

Needs InfluxDB 2.x: 1.x has no token API (it says so and exits 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

RW_DESCRIPTION = "fabricscope services: read+write bucket {bucket}"
RO_DESCRIPTION = "fabricscope grafana: read bucket {bucket}"
ROTATE_HINT = (
    "rotate: docker compose run --rm influx-tokens --rotate && "
    "docker compose restart collector poller analyzers api grafana"
)


class TokenInitError(RuntimeError):
    """A message for a person: what failed and what to do."""


@dataclass(frozen=True)
class Slot:
    """One scoped token: where its value goes and what it may do."""

    name: str  # "rw" | "ro"
    directory: Path
    description: str
    actions: tuple[str, ...]
    mode: int  # file mode of the token file

    @property
    def token_file(self) -> Path:
        return self.directory / "token"

    @property
    def id_file(self) -> Path:
        return self.directory / "authorization.json"


class InfluxAdmin:
    """The handful of InfluxDB 2.x API calls this needs, with the operator token."""

    def __init__(
        self,
        url: str,
        admin_token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Token {admin_token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TokenInitError(
                f"InfluxDB at {self.url} is unreachable ({type(exc).__name__}); is the "
                "influxdb service healthy?"
            ) from None
        if resp.status_code in (401, 403):
            raise TokenInitError(
                f"InfluxDB at {self.url} refused the admin token (HTTP {resp.status_code}): "
                "INFLUX_ADMIN_TOKEN in .env must be the token InfluxDB was set up with (it is "
                "only applied on the first start of an empty influxdb-data volume)"
            )
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code == 404:
            raise TokenInitError(
                f"InfluxDB at {self.url} has no {path} (InfluxDB 1.x?): scoped tokens need "
                "InfluxDB 2.x; on 1.x use user:password credentials as the token"
            )
        if resp.status_code >= 400:
            raise TokenInitError(
                f"InfluxDB at {self.url}: {method} {path} answered HTTP {resp.status_code}"
            )
        return resp.json() if resp.content else None

    def org_id(self, org: str) -> str:
        data = self._call("GET", "/api/v2/orgs", params={"org": org})
        orgs = (data or {}).get("orgs") or []
        if not orgs:
            raise TokenInitError(f"InfluxDB has no organization {org!r} (INFLUX_ORG)")
        return str(orgs[0]["id"])

    def bucket_id(self, org_id: str, bucket: str) -> str:
        data = self._call("GET", "/api/v2/buckets", params={"orgID": org_id, "name": bucket})
        buckets = (data or {}).get("buckets") or []
        if not buckets:
            raise TokenInitError(f"InfluxDB has no bucket {bucket!r} (INFLUX_BUCKET)")
        return str(buckets[0]["id"])

    def authorization(self, auth_id: str) -> dict[str, Any] | None:
        data = self._call("GET", f"/api/v2/authorizations/{auth_id}", missing_ok=True)
        return data if isinstance(data, dict) else None

    def create(
        self, org_id: str, bucket_id: str, description: str, actions: Sequence[str]
    ) -> dict[str, Any]:
        permissions = [
            {"action": a, "resource": {"type": "buckets", "id": bucket_id, "orgID": org_id}}
            for a in actions
        ]
        # Resolving the org by name on write (`?org=`) needs read on the org itself.
        permissions.append({"action": "read", "resource": {"type": "orgs", "id": org_id}})
        body = {"orgID": org_id, "description": description, "permissions": permissions}
        data = self._call("POST", "/api/v2/authorizations", json=body)
        if not isinstance(data, dict) or not data.get("token") or not data.get("id"):
            raise TokenInitError("InfluxDB created an authorization but returned no token")
        return data

    def delete(self, auth_id: str) -> None:
        self._call("DELETE", f"/api/v2/authorizations/{auth_id}", missing_ok=True)


def _write_atomic(path: Path, text: str, mode: int) -> None:
    """Readers never see half a token: write beside it, then rename over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stored_id(slot: Slot) -> str | None:
    try:
        data = json.loads(slot.id_file.read_text())
    except (OSError, ValueError):
        return None
    auth_id = data.get("id") if isinstance(data, dict) else None
    return str(auth_id) if auth_id and slot.token_file.is_file() else None


def ensure_tokens(
    admin: InfluxAdmin, org: str, bucket: str, slots: Sequence[Slot], *, rotate: bool = False
) -> dict[str, str]:
    """Make sure each slot holds a live scoped token; {slot name: "kept"|"created"|"rotated"}."""
    org_id = admin.org_id(org)
    bucket_id = admin.bucket_id(org_id, bucket)
    outcome: dict[str, str] = {}
    for slot in slots:
        if not slot.directory.is_dir():
            raise TokenInitError(f"{slot.directory} is not a directory (is its volume mounted?)")
        old_id = _stored_id(slot)
        old = admin.authorization(old_id) if old_id else None
        if old is not None and old.get("status", "active") == "active" and not rotate:
            outcome[slot.name] = "kept"
            continue
        made = admin.create(org_id, bucket_id, slot.description.format(bucket=bucket), slot.actions)
        _write_atomic(slot.token_file, str(made["token"]), slot.mode)
        _write_atomic(slot.id_file, json.dumps({"id": made["id"], "bucket": bucket}), 0o644)
        if old is not None and old_id:
            admin.delete(old_id)  # only after the new value is in place
        outcome[slot.name] = "rotated" if old is not None else "created"
    return outcome


def default_slots(rw_dir: Path, ro_dir: Path) -> list[Slot]:
    return [
        # The services all run as the image's fabricscope user: owner-only.
        Slot("rw", rw_dir, RW_DESCRIPTION, ("read", "write"), 0o600),
        # Grafana runs as another uid; only the grafana and init containers mount this volume.
        Slot("ro", ro_dir, RO_DESCRIPTION, ("read",), 0o644),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m fabricscope.influx_tokens",
        description="create (or keep, or rotate) the scoped InfluxDB 2.x tokens of the stack",
    )
    env = os.environ.get
    p.add_argument("--url", default=env("FABRICSCOPE_INFLUX_URL", "http://influxdb:8086"))
    p.add_argument("--org", default=env("FABRICSCOPE_INFLUX_ORG", "fabricscope"))
    p.add_argument("--bucket", default=env("FABRICSCOPE_INFLUX_BUCKET", "fabricscope"))
    p.add_argument("--rw-dir", type=Path, default=Path("/run/fabricscope/influx-rw"))
    p.add_argument("--ro-dir", type=Path, default=Path("/run/fabricscope/influx-ro"))
    p.add_argument("--rotate", action="store_true", help="replace both tokens, delete the old")
    args = p.parse_args(argv)
    admin_token = env("INFLUX_ADMIN_TOKEN", "")
    if not admin_token:
        print("influx-tokens: INFLUX_ADMIN_TOKEN is not set", file=sys.stderr)
        return 2
    admin = InfluxAdmin(args.url, admin_token)
    try:
        outcome = ensure_tokens(
            admin, args.org, args.bucket, default_slots(args.rw_dir, args.ro_dir),
            rotate=args.rotate,
        )  # fmt: skip
    except TokenInitError as exc:
        print(f"influx-tokens: {exc}", file=sys.stderr)
        return 2 if "InfluxDB 1.x" in str(exc) else 1
    finally:
        admin.close()
    for name, what in outcome.items():
        print(f"influx-tokens: {name} token {what} (bucket {args.bucket!r})")
    if any(what != "kept" for what in outcome.values()):
        print(f"influx-tokens: {ROTATE_HINT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
