"""influx/compat.py: Settings → write and InfluxQL parameters for InfluxDB 1.8, 2.7 and 3.x."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from fabricscope.settings import Settings
from influx.compat import CompatError, query_params, split_bucket, write_params

TOKEN_2X = base64.urlsafe_b64encode(bytes(range(64))).decode()  # the shape of a 2.x API token
TOKEN_3X = "apiv3_" + "x" * 40


def settings(**kw: object) -> Settings:
    base: dict[str, object] = {
        "influx_url": "http://influxdb:8086/",
        "influx_token": "",
        "influx_org": "acme",
        "influx_bucket": "fabricscope",
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("FABRICSCOPE_"):
            monkeypatch.delenv(key)


# ------------------------------------------------------------------ 2.7 (docker-compose)
def test_v2_write_params_pass_settings_through() -> None:
    w = write_params(settings(influx_token=TOKEN_2X), 2)
    assert (w.url, w.token, w.org, w.bucket) == (
        "http://influxdb:8086",
        TOKEN_2X,
        "acme",
        "fabricscope",
    )
    assert w.client_kwargs() == {"url": "http://influxdb:8086", "token": TOKEN_2X, "org": "acme"}


def test_v2_query_uses_virtual_dbrp_and_token_header() -> None:
    q = query_params(settings(influx_token=TOKEN_2X), 2)
    assert q.endpoint == "http://influxdb:8086/query"
    assert q.db == "fabricscope" and q.rp == ""  # bucket name = database, default rp (autogen)
    assert q.headers == {"Authorization": f"Token {TOKEN_2X}"}
    assert q.auth is None
    params = q.params("SHOW MEASUREMENTS")
    assert params == {"db": "fabricscope", "q": "SHOW MEASUREMENTS", "epoch": "ms"}
    assert TOKEN_2X not in repr(params)


def test_v2_bucket_named_db_rp_maps_to_that_rp() -> None:
    q = query_params(settings(influx_token=TOKEN_2X, influx_bucket="telegraf/autogen"), 2)
    assert (q.db, q.rp) == ("telegraf", "autogen")
    assert q.params("SELECT 1")["rp"] == "autogen"
    # writes keep the bucket name as is (that is the bucket's real name on 2.x)
    assert write_params(settings(influx_token=TOKEN_2X, influx_bucket="a/b"), 2).bucket == "a/b"


def test_v2_needs_a_token() -> None:
    with pytest.raises(CompatError, match="API token"):
        query_params(settings(), 2)
    with pytest.raises(CompatError, match="API token"):
        write_params(settings(), 2)


# ------------------------------------------------------------------ 1.8
def test_v1_user_password_token_becomes_basic_auth() -> None:
    s = settings(influx_token="reader:s3cr:et", influx_bucket="fabricscope/autogen")
    q = query_params(s, 1)
    assert q.auth == ("reader", "s3cr:et")  # only the first ':' separates
    assert q.headers == {}
    assert (q.db, q.rp) == ("fabricscope", "autogen")
    p = q.params("SELECT 1")
    assert "u" not in p and "p" not in p  # credentials stay out of URLs and access logs
    w = write_params(s, 1)
    assert (w.token, w.org, w.bucket) == ("reader:s3cr:et", "-", "fabricscope/autogen")


def test_v1_without_auth() -> None:
    q = query_params(settings(), 1)
    assert q.auth is None and q.headers == {}
    assert (q.db, q.rp) == ("fabricscope", "")
    assert write_params(settings(), 1).token == ""


def test_v1_rejects_an_api_token_without_leaking_it() -> None:
    with pytest.raises(CompatError) as info:
        query_params(settings(influx_token=TOKEN_2X), 1)
    assert TOKEN_2X not in str(info.value)
    assert "user:password" in str(info.value)
    with pytest.raises(CompatError):
        write_params(settings(influx_token=":nouser"), 1)


# ------------------------------------------------------------------ 3.x
def test_v3_query_and_write() -> None:
    s = settings(influx_url="http://influxdb3:8181", influx_token=TOKEN_3X)
    q = query_params(s, 3)
    assert q.endpoint == "http://influxdb3:8181/query"
    assert (q.db, q.rp) == ("fabricscope", "")
    assert q.headers == {"Authorization": f"Token {TOKEN_3X}"}
    w = write_params(s, 3)
    assert (w.url, w.bucket, w.token) == ("http://influxdb3:8181", "fabricscope", TOKEN_3X)


def test_v3_without_auth() -> None:
    q = query_params(settings(influx_url="http://influxdb3:8181"), 3)
    assert q.headers == {} and q.auth is None


# ------------------------------------------------------------------ common
@pytest.mark.parametrize("major", [1, 2, 3])
def test_repr_never_shows_the_token(major: int) -> None:
    token = "user:hunter2hunter2" if major == 1 else TOKEN_2X
    s = settings(influx_token=token)
    for obj in (write_params(s, major), query_params(s, major)):
        assert "hunter2" not in repr(obj) and TOKEN_2X not in repr(obj)


@pytest.mark.parametrize("major", [0, 4])
def test_unknown_major(major: int) -> None:
    with pytest.raises(CompatError, match="major"):
        query_params(settings(influx_token=TOKEN_2X), major)


def test_url_required_and_overridable() -> None:
    with pytest.raises(CompatError, match="FABRICSCOPE_INFLUX_URL"):
        write_params(settings(influx_url="", influx_token=TOKEN_2X), 2)
    # the managed local InfluxDB: its URL is known only at run time
    w = write_params(
        settings(influx_url="", influx_token=TOKEN_2X), 2, url="http://127.0.0.1:18086"
    )
    assert w.url == "http://127.0.0.1:18086"


def test_split_bucket() -> None:
    assert split_bucket("db") == ("db", "")
    assert split_bucket("db/rp") == ("db", "rp")
    with pytest.raises(CompatError):
        split_bucket("/rp")


def test_secretstr_accepted() -> None:
    s = settings(influx_token=SecretStr(TOKEN_2X))
    assert query_params(s, 2).headers["Authorization"] == f"Token {TOKEN_2X}"
