"""Response models of the HTTP API (stage: api). They document the JSON in OpenAPI (/docs).

Rows keep any extra fields InfluxDB returns (`extra="allow"`): writers may add fields (kind
extras on anomalies, new counters) and the API should pass them on rather than hide them.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Row(BaseModel):
    model_config = ConfigDict(extra="allow")
    time: str | None = Field(None, description="RFC 3339 UTC")


class Move(Row):
    fabric: str | None = None
    addr: str | None = None
    addr_type: str | None = None
    from_node: str | None = None
    from_interface: str | None = None
    from_encap: str | None = None
    to_node: str | None = None
    to_interface: str | None = None
    to_encap: str | None = None
    epg: str | None = None
    bd: str | None = None
    vrf: str | None = None


class Anomaly(Row):
    fabric: str | None = None
    addr: str | None = None
    kind: str | None = None
    detail: str | None = None


class MoveAnalysis(Row):
    fabric: str | None = None
    addr: str | None = None
    cause: str | None = None
    confidence: float | None = None
    evidence: str | None = None
    incident_id: str | None = Field(None, description="the incident this move belongs to")
    places: str | None = Field(
        None, description="places on the move's path that carried evidence (comma-separated)"
    )
    topology: str | None = Field(None, description="known | partial | unknown")


class HistoryItem(Row):
    type: Literal["event", "move"]


T = TypeVar("T")


class Paged(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="offset of the next page, null at the end")


class Location(BaseModel):
    node: str
    interface: str | None = None
    encap: str | None = None
    status: str | None = None
    flags: str | None = None
    since: str | None = None


class Endpoint(BaseModel):
    addr: str
    addr_type: str | None = None
    fabric: str | None = None
    locations: list[Location]
    epg: str | None = None
    bd: str | None = None
    vrf: str | None = None
    last_move_time: str | None = None
    last_seen: str | None = None


class EndpointSearch(BaseModel):
    query: str
    match: Literal["mac", "ip", "cidr", "prefix"]
    items: list[Endpoint]
    truncated: bool = Field(description="more addresses matched than were returned")


class ProcessHealth(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "degraded", "stale", "absent"]
    last_report: str | None = None
    age_s: float | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    influxdb: Literal["ok", "unreachable", "unauthorized", "error"]
    influxdb_error: str | None = None
    processes: dict[str, ProcessHealth]


class VM(BaseModel):
    vm: str | None = None
    macs: list[str]


class Host(BaseModel):
    model_config = ConfigDict(extra="allow")
    host: str
    vms: list[VM]


class HostMetrics(BaseModel):
    host: str
    interval: str
    cpu: list[Row]
    mem: list[Row]
    system: list[Row]
    vms: list[VM]


class InterfaceRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: Literal["sflow", "apic"]


class TopFlow(BaseModel):
    model_config = ConfigDict(extra="allow")
    bytes: int = 0
    packets: int = 0
    samples: int = 0
    src_endpoint: dict[str, str] | None = None
    dst_endpoint: dict[str, str] | None = None


class Incident(Row):
    """One `incident` point (docs/measurements.md): moves that share a cause and a place.
    `time` is the incident's start; `places` and `addrs` are the comma-separated fields split."""

    id: str | None = None
    fabric: str | None = None
    kind: str | None = Field(
        None, description="loop | link_failover | vm_migration | nic_teaming_flap | unknown"
    )
    start: str | None = Field(None, description="RFC 3339")
    end: str | None = Field(None, description="RFC 3339")
    endpoints: int | None = None
    moves: int | None = None
    places: list[str] = Field(
        default_factory=list, description="e.g. bd:uni/tn-T/BD-B, node-101/eth1/5, host:esx-03"
    )
    summary: str | None = None
    evidence: str | None = None
    confidence: float | None = None
    addrs: list[str] = Field(default_factory=list, description="endpoint MACs (at most 200)")
    peak_flood_pps: float | None = None


class IncidentMove(MoveAnalysis):
    """A `move_analysis` finding that belongs to the incident, with the move it explains."""

    move_time: str | None = None
    from_node: str | None = None
    from_interface: str | None = None
    to_node: str | None = None
    to_interface: str | None = None


class IncidentDetail(Incident):
    timeline: list[IncidentMove] = Field(
        default_factory=list,
        description="the incident's moves (move_analysis with its incident_id), oldest first",
    )
    timeline_truncated: bool = Field(False, description="more moves exist than were listed")
