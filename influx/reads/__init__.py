"""Query stage: the one typed read layer of fabricscope (analyzers and API alike).

- `influx.reads.analyzer`: typed records on exact nanosecond times for the analyzers — per-key
  reads and the bulk `*_in` reads (one statement per measurement per run);
- `influx.reads.api`: `ApiQueries`, the JSON-ready reads behind each HTTP route;
- `influx.reads.incident_pages`: the incidents routes' and pages' reads (`incident`, its
  `move_analysis` timeline, and the evidence series charted around it);
- `influx.reads._core`: bind parameters (`Binds`), WHERE helpers and row decoding they share.

Every value goes into InfluxQL as a bind parameter (`$p0`); identifiers through `quote_ident`,
regexes through `regex_literal`, times as integer nanoseconds. `from influx import reads` then
`reads.moves(...)` / `reads.ApiQueries(...)`: the names below are the public surface.
"""

from __future__ import annotations

from influx.reads._core import MAX_BULK_ROWS, MAX_ROWS, Binds
from influx.reads.analyzer import (
    Adjacency,
    Anomaly,
    CpuSample,
    EndpointInfo,
    Fault,
    FlowRow,
    HostAdapters,
    IfCounters,
    InterfaceSample,
    Move,
    MoveFinding,
    NetSample,
    StoredIncident,
    adjacency_in,
    anomalies,
    cpu_in,
    delete_move_finding,
    delete_points,
    endpoint_directory,
    faults_in,
    flows,
    host_adapters_in,
    host_own_adapters,
    incidents,
    interfaces_in,
    move_analysis,
    moves,
    net_in,
    sflow_if_counters,
)
from influx.reads.api import (
    SEARCH_MAX_ADDRS,
    AddrQuery,
    ApiQueries,
    Window,
    classify_search,
    ns_to_iso,
)

__all__ = [
    "AddrQuery",
    "Adjacency",
    "Anomaly",
    "ApiQueries",
    "Binds",
    "CpuSample",
    "EndpointInfo",
    "Fault",
    "FlowRow",
    "HostAdapters",
    "IfCounters",
    "InterfaceSample",
    "MAX_BULK_ROWS",
    "MAX_ROWS",
    "Move",
    "MoveFinding",
    "NetSample",
    "StoredIncident",
    "delete_points",
    "incidents",
    "SEARCH_MAX_ADDRS",
    "Window",
    "adjacency_in",
    "anomalies",
    "classify_search",
    "cpu_in",
    "delete_move_finding",
    "endpoint_directory",
    "faults_in",
    "flows",
    "host_adapters_in",
    "host_own_adapters",
    "interfaces_in",
    "move_analysis",
    "moves",
    "net_in",
    "ns_to_iso",
    "sflow_if_counters",
]
