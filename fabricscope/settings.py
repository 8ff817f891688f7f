"""Settings: every FABRICSCOPE_* environment variable, each also a CLI flag."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """One settings object for every process; ARCHITECTURE.md lists the contract."""

    model_config = SettingsConfigDict(env_prefix="FABRICSCOPE_", extra="ignore")

    influx_url: str = ""  # empty: the managed local InfluxDB (fabricscope influxdb start)
    influx_token: SecretStr = SecretStr("")
    # A file holding the token (docker-compose: the `influx-tokens` init writes it). Used when
    # influx_token is empty; the file is read once, at start.
    influx_token_file: str = ""
    influx_org: str = "fabricscope"
    influx_bucket: str = "fabricscope"

    sflow_listen: str = "0.0.0.0:6343"
    sflow_allow: str = ""  # comma-separated CIDRs; empty allows every source
    sflow_workers: int = 1  # >1: that many SO_REUSEPORT processes
    sflow_flow_interval_s: float = 10.0
    sflow_flow_top_n: int = 100
    sflow_rcvbuf_bytes: int = 8 * 1024 * 1024

    apic_urls: str = ""  # comma-separated, tried in order
    apic_username: str = "admin"
    apic_password: SecretStr = SecretStr("")
    apic_verify_tls: bool = True

    fabric: str = "fabric1"
    api_listen: str = "127.0.0.1:8080"
    api_key: SecretStr = SecretStr("")
    # Where people open Grafana (links from the UI's incident pages); empty: no links.
    grafana_url: str = "http://127.0.0.1:3000"

    spool_dir: str = ""  # empty: <state dir>/spool
    state_dir: str = Field(default="", description="where the managed InfluxDB and spool live")

    batch_size: int = 5000
    flush_interval_s: float = 1.0
    queue_max_lines: int = 1_000_000

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        if self.influx_token_file and not self.influx_token.get_secret_value():
            path = Path(self.influx_token_file)
            try:
                token = path.read_text().strip()
            except OSError as exc:
                raise ValueError(
                    f"FABRICSCOPE_INFLUX_TOKEN_FILE={path}: cannot read it ({exc.strerror})"
                ) from None
            if not token:
                raise ValueError(f"FABRICSCOPE_INFLUX_TOKEN_FILE={path} is empty")
            self.influx_token = SecretStr(token)
        return self


def load_settings(**overrides: object) -> Settings:
    """Environment first, then explicit (CLI flag) overrides that are not None."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
