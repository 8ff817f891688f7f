"""Generate fabricscope's Grafana dashboards (grafana/dashboards/*.json) from compact definitions.

    python grafana/build_dashboards.py          # rewrite the JSON files
    python grafana/build_dashboards.py --check  # exit 1 when a committed file differs

Every panel uses the InfluxDB datasource through the dashboard variable ``DS_FABRICSCOPE_INFLUXDB``
(type datasource, default: the provisioned uid ``fabricscope-influxdb``) with raw InfluxQL. The
same name is the dashboard's ``__inputs`` entry, so one file works both ways: provisioned, the
``${DS_FABRICSCOPE_INFLUXDB}`` references resolve through the variable; imported through the UI
(Dashboards → Import), Grafana asks for an InfluxDB datasource and substitutes its uid.
Measurement, tag and field names are the ones in docs/measurements.md and
collector/apic/points.py (APIC), analyzers/move_cause.py (``move_analysis``) and
analyzers/stats.py (the analyzers' ``fabricscope_stats``). tests/deploy/test_dashboard_queries.py
runs every query against a real InfluxDB seeded by the real collector path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# The cause variable's values come from the analyzers' registry (analyzers/causes/).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzers.causes import CAUSE_NAMES  # noqa: E402

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
DS_INPUT = "DS_FABRICSCOPE_INFLUXDB"
DS_UID = "fabricscope-influxdb"  # grafana/provisioning/datasources/influxdb.yml
DS = {"type": "influxdb", "uid": "${" + DS_INPUT + "}"}
Json = dict[str, Any]


# ------------------------------------------------------------------ building blocks
def target(query: str, ref: str = "A", alias: str | None = None, fmt: str = "time_series") -> Json:
    t: Json = {
        "refId": ref,
        "datasource": dict(DS),
        "query": query,
        "rawQuery": True,
        "resultFormat": fmt,
    }
    if alias:
        t["alias"] = alias
    return t


def variable(
    name: str, query: str, *, multi: bool = True, include_all: bool = True, label: str = ""
) -> Json:
    current: Json = (
        {"selected": True, "text": ["All"], "value": ["$__all"]}
        if include_all
        else {"selected": False, "text": "", "value": ""}
    )
    v: Json = {
        "name": name,
        "label": label or name,
        "type": "query",
        "datasource": dict(DS),
        "query": query,
        "definition": query,
        "refresh": 2,
        "includeAll": include_all,
        "multi": multi,
        "current": current,
        "sort": 1,
        "hide": 0,
        "options": [],
        "regex": "",
    }
    if include_all:
        v["allValue"] = ".*"
    return v


def custom_variable(name: str, values: tuple[str, ...], *, label: str = "") -> Json:
    """A multi-value variable with a fixed list (e.g. the causes of the analyzers' registry)."""
    return {
        "name": name,
        "label": label or name,
        "type": "custom",
        "query": ",".join(values),
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [{"selected": False, "text": v, "value": v} for v in values],
        "hide": 0,
    }


def annotation(name: str, query: str, *, color: str, text: str, tags: str, title: str = "") -> Json:
    """An InfluxQL annotation query: Grafana's columns mapping (title/text/tags columns)."""
    return {
        "name": name,
        "datasource": dict(DS),
        "enable": True,
        "hide": False,
        "iconColor": color,
        "query": query,
        "titleColumn": title,
        "textColumn": text,
        "tagsColumn": tags,
        "target": {"refId": "Anno", "query": query, "rawQuery": True, "resultFormat": "table"},
    }


def _ts_defaults(unit: str, draw: str = "line", stack: bool = False) -> Json:
    return {
        "unit": unit,
        "min": 0,
        "custom": {
            "drawStyle": draw,
            "lineWidth": 1,
            "fillOpacity": 10,
            "spanNulls": True,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
    }


def timeseries(
    title: str,
    targets: list[Json],
    *,
    unit: str = "short",
    desc: str = "",
    draw: str = "line",
    stack: bool = False,
    interval: str = "",
) -> Json:
    p: Json = {
        "type": "timeseries",
        "title": title,
        "description": desc,
        "targets": targets,
        "fieldConfig": {"defaults": _ts_defaults(unit, draw, stack), "overrides": []},
        "options": {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
                "calcs": ["mean", "max", "lastNotNull"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }
    if interval:
        p["interval"] = interval
    return p


def stat(
    title: str,
    targets: list[Json],
    *,
    unit: str = "short",
    desc: str = "",
    calc: str = "lastNotNull",
    red_at: float | None = None,
    mappings: list[Json] | None = None,
    no_value: str = "",
) -> Json:
    steps: list[Json] = [{"color": "green", "value": None}]
    if red_at is not None:
        steps.append({"color": "red", "value": red_at})
    defaults: Json = {
        "unit": unit,
        "mappings": mappings or [],
        "thresholds": {"mode": "absolute", "steps": steps},
    }
    if no_value:
        defaults["noValue"] = no_value  # shown when the query finds nothing (e.g. no port down)
    return {
        "type": "stat",
        "title": title,
        "description": desc,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": [calc], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
            "justifyMode": "auto",
            "orientation": "auto",
        },
    }


def bargauge(title: str, targets: list[Json], *, desc: str = "", calc: str = "sum") -> Json:
    return {
        "type": "bargauge",
        "title": title,
        "description": desc,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": "short", "min": 0}, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": [calc], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
        },
    }


def table(
    title: str,
    targets: list[Json],
    *,
    desc: str = "",
    reduce_sum: bool = False,
    limit: int = 0,
    unit: str = "short",
) -> Json:
    """A table. With ``reduce_sum``, each series becomes one row with its total (top-N tables),
    sorted descending and cut to ``limit`` rows."""
    transformations: list[Json] = []
    if reduce_sum:
        transformations = [
            {"id": "reduce", "options": {"reducers": ["sum"], "mode": "seriesToRows"}},
            {"id": "sortBy", "options": {"sort": [{"field": "Total", "desc": True}]}},
        ]
        if limit:
            transformations.append({"id": "limit", "options": {"limitField": limit}})
    else:
        transformations = [{"id": "merge", "options": {}}]
    return {
        "type": "table",
        "title": title,
        "description": desc,
        "targets": targets,
        "transformations": transformations,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
    }


def top_table(title: str, query: str, *, desc: str = "", unit: str = "short") -> Json:
    """A top-N table whose query already reduces (InfluxQL top() over a per-key sum): rows
    sorted by value, the time column hidden."""
    value = "bytes"
    return {
        "type": "table",
        "title": title,
        "description": desc,
        "targets": [target(query, fmt="table")],
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
            {"id": "sortBy", "options": {"sort": [{"field": value, "desc": True}]}},
        ],
        "fieldConfig": {
            "defaults": {"unit": "short"},
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": value},
                    "properties": [{"id": "unit", "value": unit}],
                },
            ],
        },  # fmt: skip
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
    }


def state_timeline(title: str, targets: list[Json], *, desc: str = "") -> Json:
    return {
        "type": "state-timeline",
        "title": title,
        "description": desc,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "mappings": [
                    {
                        "type": "value",
                        "options": {
                            "0": {"text": "down", "color": "red"},
                            "1": {"text": "up", "color": "green"},
                            "false": {"text": "down", "color": "red"},
                            "true": {"text": "up", "color": "green"},
                        },
                    }
                ],
                "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]},
            },
            "overrides": [],
        },
        "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.9},
    }


def datasource_variable() -> Json:
    """The datasource every panel uses, by the __inputs name: provisioned dashboards resolve
    ${DS_FABRICSCOPE_INFLUXDB} through it (default: the provisioned datasource)."""
    return {
        "name": DS_INPUT,
        "label": "InfluxDB",
        "type": "datasource",
        "query": "influxdb",
        "current": {"selected": True, "text": "fabricscope InfluxDB", "value": DS_UID},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def dashboard(
    uid: str,
    title: str,
    desc: str,
    tags: list[str],
    layout: list[tuple[Json, int, int]],
    *,
    variables: list[Json] | None = None,
    annotations: list[Json] | None = None,
    time_from: str = "now-6h",
) -> Json:
    """``layout``: (panel, width, height) in reading order, packed on a 24-wide grid."""
    panels: list[Json] = []
    x = y = row_h = 0
    for i, (p, w, h) in enumerate(layout, start=1):
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        panel = {**p, "id": i, "datasource": dict(DS), "gridPos": {"h": h, "w": w, "x": x, "y": y}}
        panels.append(panel)
        x += w
        row_h = max(row_h, h)
    return {
        # UI import (Dashboards → Import) asks for this datasource and substitutes its uid for
        # every ${DS_FABRICSCOPE_INFLUXDB}; file provisioning ignores __inputs.
        "__inputs": [
            {
                "name": DS_INPUT,
                "label": "InfluxDB (fabricscope bucket, InfluxQL)",
                "description": "The InfluxDB datasource holding fabricscope's measurements",
                "type": "datasource",
                "pluginId": "influxdb",
                "pluginName": "InfluxDB",
            }
        ],
        "__requires": [
            {"type": "datasource", "id": "influxdb", "name": "InfluxDB", "version": "1.0.0"}
        ],
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": ["fabricscope", *tags],
        "id": None,
        "version": 1,
        "schemaVersion": 39,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "refresh": "30s",
        "liveNow": False,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "annotations": {"list": annotations or []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["fabricscope"],
                "asDropdown": True,
                "title": "fabricscope",
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": [datasource_variable(), *(variables or [])]},
        "panels": panels,
    }


def rate(field: str, alias: str = "", scale: str = "") -> str:
    """InfluxQL rate of a cumulative counter (docs/measurements.md: rates at query time)."""
    return f'non_negative_derivative(max("{field}"), 1s){scale} AS "{alias or field}"'


GT = "GROUP BY time($__interval)"
FABRIC = '"fabric" =~ /^$fabric$/'


def fabric_var(measurement: str) -> Json:
    return variable("fabric", f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "fabric"')


MOVE_COLS = (
    '"addr", "addr_type", "from_node", "from_interface", "from_encap", "to_node", '
    '"to_interface", "to_encap", "epg", "bd", "vrf", "count"'
)
INCIDENT_COLS = (
    '"kind", "summary", "endpoints", "moves", "places", "confidence", "end", "evidence", "id"'
)


def incident_annotation(where: str) -> Json:
    """Incidents as annotations at their start: kind as title, the summary as text."""
    return annotation(
        "Incidents",
        f'SELECT "kind", "summary" FROM "incident" WHERE $timeFilter AND {where}',
        color="red",
        title="kind",
        text="summary",
        tags="kind",
    )


CAUSE = '"cause" =~ /^$cause$/'
ANALYSIS_COLS = (
    '"addr", "cause", "confidence", "evidence", "from_node", "from_interface", '
    '"to_node", "to_interface", "incident_id", "topology"'
)


# ------------------------------------------------------------------ fabric overview
def fabric_overview() -> Json:
    moves_pm = timeseries(
        "Endpoint moves per minute",
        [
            target(
                f'SELECT count("to_node") AS "moves" FROM "apic_endpoint_move" '
                f"WHERE $timeFilter AND {FABRIC} {GT} fill(none)",
                alias="moves",
            )
        ],
        desc="apic_endpoint_move points per interval (minimum interval 1 minute).",
        draw="bars",
        interval="1m",
    )
    anomalies_pm = timeseries(
        "Anomalies per minute by kind",
        [
            target(
                f'SELECT count("vnid") AS "anomalies" FROM "apic_endpoint_anomaly" '
                f'WHERE $timeFilter AND {FABRIC} {GT}, "kind" fill(none)',
                alias="$tag_kind",
            )
        ],
        desc="apic_endpoint_anomaly points per interval (minimum 1 minute), stacked by kind "
        "(rapid, offsubnet, stale, rogue, duplicate_ip, loop).",
        draw="bars",
        stack=True,
        interval="1m",
    )
    by_kind = bargauge(
        "Anomalies by kind",
        [
            target(
                f'SELECT count("vnid") AS "anomalies" FROM "apic_endpoint_anomaly" '
                f'WHERE $timeFilter AND {FABRIC} {GT}, "kind" fill(none)',
                alias="$tag_kind",
            )
        ],
        desc="Total anomalies in the time range, per kind.",
    )
    moves_total = stat(
        "Moves",
        [
            target(
                f'SELECT count("to_node") AS "moves" FROM "apic_endpoint_move" '
                f"WHERE $timeFilter AND {FABRIC} {GT} fill(none)"
            )
        ],
        desc="Endpoint moves in the time range.",
        calc="sum",
    )
    if_down = stat(
        "Interfaces oper-down",
        [
            # The inner query keeps one row per port, its last state in the whole range; the
            # outer counts the down ones, so a port that came back up no longer counts. No
            # GROUP BY time on either: InfluxDB would push the outer one into the inner query
            # and count "down at some point in each interval" again.
            target(
                'SELECT count("up") AS "apic_down" FROM (SELECT last("oper_up") AS "up" '
                f'FROM "apic_interface" WHERE $timeFilter AND {FABRIC} GROUP BY "node", '
                '"interface") WHERE $timeFilter AND "up" = false',
                alias="APIC ports",
            ),
            target(
                'SELECT count("up") AS "sflow_down" FROM (SELECT last("if_oper_up") AS "up" '
                'FROM "sflow_if_counters" WHERE $timeFilter GROUP BY "agent", "ifindex") '
                'WHERE $timeFilter AND "up" = 0',
                ref="B",
                alias="sFlow ports",
            ),
        ],
        desc="Ports whose last reported state in the time range is down: APIC leaf ports "
        "(apic_interface oper_up) and sFlow interfaces (sflow_if_counters if_oper_up).",
        calc="sum",
        red_at=1,
        no_value="0",
    )
    collector = stat(
        "Collector datagrams /s",
        [
            target(
                f'SELECT {rate("datagrams")} FROM "fabricscope_stats" WHERE $timeFilter '
                f'AND "process" = \'collector\' AND "agent" = \'\' {GT}, "instance" fill(null)',
                alias="$tag_instance",
            )
        ],
        desc="sFlow datagrams received per second, per collector instance (fabricscope_stats).",
        unit="cps",
    )
    poller = stat(
        "APIC poller state",
        [
            target(
                'SELECT last("state") AS "state" FROM "fabricscope_stats" WHERE $timeFilter '
                f'AND "process" = \'poller\' AND {FABRIC} {GT}, "fabric" fill(none)',
                alias="$tag_fabric",
            )
        ],
        desc="The APIC poller's last reported state (fabricscope_stats process=poller).",
    )
    poller_lag = stat(
        "APIC event lag",
        [
            target(
                'SELECT last("lag_s") AS "lag" FROM "fabricscope_stats" WHERE $timeFilter '
                f'AND "process" = \'poller\' AND {FABRIC} {GT}, "fabric" fill(none)',
                alias="$tag_fabric",
            )
        ],
        desc="Delay between an APIC event and its processing by the poller.",
        unit="s",
        red_at=30,
    )
    top_movers = table(
        "Top moving endpoints",
        [
            target(
                f'SELECT count("to_node") AS "moves" FROM "apic_endpoint_move" '
                f'WHERE $timeFilter AND {FABRIC} {GT}, "addr" fill(none)',
                alias="$tag_addr",
            )
        ],
        desc="Endpoints (MAC or IP) by number of moves in the time range.",
        reduce_sum=True,
        limit=15,
    )
    incidents_tbl = table(
        "Incidents",
        [
            target(
                f'SELECT {INCIDENT_COLS} FROM "incident" WHERE $timeFilter AND {FABRIC} '
                "ORDER BY time DESC LIMIT 200",
                fmt="table",
            )
        ],
        desc="incident: endpoint moves grouped by shared cause and place (analyzers/incidents.py)"
        ", newest first. Time is the incident's start; the fabricscope UI (/ui/incidents/<id>) "
        "charts the evidence around each one.",
    )
    causes = bargauge(
        "Move causes",
        [
            target(
                f'SELECT count("confidence") AS "moves" FROM "move_analysis" '
                f'WHERE $timeFilter AND {FABRIC} {GT}, "cause" fill(none)',
                alias="$tag_cause",
            )
        ],
        desc="Moves explained by the move-cause analyzer (move_analysis), per cause.",
    )
    return dashboard(
        "fabricscope-fabric-overview",
        "fabricscope / Fabric overview",
        "Endpoint moves and anomalies from the APIC, port state, and the health of the "
        "collector and poller.",
        ["apic", "overview"],
        [
            (moves_total, 4, 4),
            (if_down, 6, 4),
            (collector, 5, 4),
            (poller, 5, 4),
            (poller_lag, 4, 4),
            (incidents_tbl, 24, 8),
            (moves_pm, 12, 8),
            (anomalies_pm, 12, 8),
            (top_movers, 8, 10),
            (by_kind, 8, 10),
            (causes, 8, 10),
        ],
        variables=[fabric_var("apic_endpoint_move")],
        annotations=[incident_annotation(FABRIC)],
    )


# ------------------------------------------------------------------ endpoint moves
def endpoint_moves() -> Json:
    move_anno = annotation(
        "Endpoint moves",
        f'SELECT "addr", "to_node", "to_interface", "from_node" FROM "apic_endpoint_move" '
        f"WHERE $timeFilter AND {FABRIC}",
        color="orange",
        title="addr",
        text="to_interface",
        tags="addr,to_node",
    )
    cause_anno = annotation(
        "Move causes",
        f'SELECT "cause", "evidence", "confidence", "addr" FROM "move_analysis" '
        f"WHERE $timeFilter AND {FABRIC}",
        color="purple",
        title="cause",
        text="evidence",
        tags="cause,addr",
    )
    return dashboard(
        "fabricscope-endpoint-moves",
        "fabricscope / Endpoint moves",
        "Every endpoint move the APIC reported (apic_endpoint_move) and the cause the analyzer "
        "found for it (move_analysis).",
        ["apic", "endpoints"],
        [
            (
                timeseries(
                    "Moves per interval by address type",
                    [
                        target(
                            f'SELECT count("to_node") AS "moves" FROM "apic_endpoint_move" '
                            f'WHERE $timeFilter AND {FABRIC} {GT}, "addr_type" fill(none)',
                            alias="$tag_addr_type",
                        )
                    ],
                    desc="Moves per interval (minimum 1 minute), MAC vs IPv4/IPv6.",
                    draw="bars",
                    stack=True,
                    interval="1m",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Moves per interval by cause",
                    [
                        target(
                            f'SELECT count("confidence") AS "moves" FROM "move_analysis" '
                            f"WHERE $timeFilter AND {FABRIC} AND {CAUSE} "
                            f'{GT}, "cause" fill(none)',
                            alias="$tag_cause",
                        )
                    ],
                    desc="Analyzer findings per interval (minimum 1 minute), stacked by cause.",
                    draw="bars",
                    stack=True,
                    interval="1m",
                ),
                12,
                8,
            ),
            (
                table(
                    "Moves",
                    [
                        target(
                            f'SELECT {MOVE_COLS} FROM "apic_endpoint_move" WHERE $timeFilter '
                            f"AND {FABRIC} ORDER BY time DESC LIMIT 1000",
                            fmt="table",
                        )
                    ],
                    desc="Latest 1000 moves: old and new location (node, interface, encap) and "
                    "the endpoint's EPG/BD/VRF.",
                ),
                24,
                10,
            ),
            (
                table(
                    "Move causes (analyzer findings)",
                    [
                        target(
                            f'SELECT {ANALYSIS_COLS} FROM "move_analysis" WHERE $timeFilter '
                            f"AND {FABRIC} AND {CAUSE} ORDER BY time DESC LIMIT 1000",
                            fmt="table",
                        )
                    ],
                    desc="Cause, confidence and evidence for each move (unknown = no evidence).",
                ),
                24,
                10,
            ),
        ],
        variables=[
            fabric_var("apic_endpoint_move"),
            custom_variable("cause", CAUSE_NAMES, label="cause"),
        ],
        annotations=[move_anno, cause_anno],
    )


# ------------------------------------------------------------------ endpoint detail
def endpoint_detail() -> Json:
    addr = "\"addr\" = '$address'"
    # `addrs` is the comma-separated list of the incident's endpoint MACs.
    in_addrs = '"addrs" =~ /(^|,)$address(,|$)/'
    address = variable(
        "address",
        'SHOW TAG VALUES FROM /^apic_endpoint_(event|move|anomaly)$/ WITH KEY = "addr"',
        multi=False,
        include_all=False,
    )
    return dashboard(
        "fabricscope-endpoint-detail",
        "fabricscope / Endpoint detail",
        "One endpoint (MAC or IP): its per-node events, moves, anomalies and move causes.",
        ["apic", "endpoints"],
        [
            (
                stat(
                    "Current leaf",
                    [
                        target(
                            'SELECT last("to_node") AS "node" FROM "apic_endpoint_move" '
                            f"WHERE $timeFilter AND {addr} {GT} fill(none)",
                            alias="after its last move",
                        ),
                        # An endpoint that never moved has no move: every leaf that learns it
                        # locally writes an event (remote/tunnel entries and deletes do not say
                        # where it is). During a rapid hold events are not written, moves are.
                        target(
                            'SELECT last("node") AS "node" FROM "apic_endpoint_event" '
                            f'WHERE $timeFilter AND {addr} AND "flags" =~ /(^|,)local(,|$)/ '
                            f"AND \"status\" != 'deleted' {GT} fill(none)",
                            ref="B",
                            alias="last local learn",
                        ),
                    ],
                    desc="Leaf of the endpoint: after its latest move in the time range "
                    "(apic_endpoint_move to_node, `103-104` for a vPC pair) and of its latest "
                    "local learn (apic_endpoint_event, flag local, not deleted), which is all "
                    "there is for an endpoint that never moved.",
                ),
                6,
                4,
            ),
            (
                stat(
                    "Moves",
                    [
                        target(
                            'SELECT count("to_node") AS "moves" FROM "apic_endpoint_move" '
                            f"WHERE $timeFilter AND {addr} {GT} fill(none)"
                        )
                    ],
                    calc="sum",
                ),
                6,
                4,
            ),
            (
                stat(
                    "Anomalies",
                    [
                        target(
                            'SELECT count("vnid") AS "anomalies" FROM "apic_endpoint_anomaly" '
                            f"WHERE $timeFilter AND {addr} {GT} fill(none)"
                        )
                    ],
                    calc="sum",
                    red_at=1,
                ),
                6,
                4,
            ),
            (
                stat(
                    "Events",
                    [
                        target(
                            'SELECT count("status") AS "events" FROM "apic_endpoint_event" '
                            f"WHERE $timeFilter AND {addr} {GT} fill(none)"
                        )
                    ],
                    calc="sum",
                ),
                6,
                4,
            ),
            (
                timeseries(
                    "Events per interval by status",
                    [
                        # status is a field (docs/measurements.md), so no GROUP BY: one query
                        # per value.
                        target(
                            'SELECT count("node") AS "events" FROM "apic_endpoint_event" '
                            f"WHERE $timeFilter AND {addr} AND \"status\" = '{status}' "
                            f"{GT} fill(none)",
                            ref=ref,
                            alias=status,
                        )
                        for ref, status in (("A", "created"), ("B", "modified"), ("C", "deleted"))
                    ],
                    desc="The endpoint's per-node changes (apic_endpoint_event) per interval, by "
                    "status: created, modified, deleted.",
                    draw="bars",
                    stack=True,
                    interval="1m",
                ),
                24,
                7,
            ),
            (
                table(
                    "Per-node events",
                    [
                        target(
                            'SELECT "node", "status", "flags", "interface", "encap", "pctag", '
                            '"remote_node", "rw_mac", "vnid" FROM "apic_endpoint_event" '
                            f"WHERE $timeFilter AND {addr} ORDER BY time DESC LIMIT 500",
                            fmt="table",
                        )
                    ],
                    desc="apic_endpoint_event: each node's learn/delete of the endpoint.",
                ),
                24,
                9,
            ),
            (
                table(
                    "Moves",
                    [
                        target(
                            f'SELECT {MOVE_COLS} FROM "apic_endpoint_move" '
                            f"WHERE $timeFilter AND {addr} ORDER BY time DESC LIMIT 500",
                            fmt="table",
                        )
                    ],
                ),
                24,
                8,
            ),
            (
                table(
                    "Anomalies",
                    [
                        target(
                            'SELECT "kind", "detail", "addr_type", "vnid" FROM '
                            f'"apic_endpoint_anomaly" WHERE $timeFilter AND {addr} '
                            "ORDER BY time DESC LIMIT 500",
                            fmt="table",
                        )
                    ],
                ),
                12,
                8,
            ),
            (
                table(
                    "Move causes",
                    [
                        target(
                            f'SELECT {ANALYSIS_COLS} FROM "move_analysis" '
                            f"WHERE $timeFilter AND {addr} ORDER BY time DESC LIMIT 500",
                            fmt="table",
                        )
                    ],
                ),
                12,
                8,
            ),
            (
                table(
                    "Incidents",
                    [
                        target(
                            f'SELECT {INCIDENT_COLS} FROM "incident" '
                            f"WHERE $timeFilter AND {in_addrs} ORDER BY time DESC LIMIT 200",
                            fmt="table",
                        )
                    ],
                    desc="Incidents this endpoint was part of (its MAC in incident.addrs).",
                ),
                24,
                6,
            ),
        ],
        variables=[address],
        annotations=[
            annotation(
                "Moves",
                'SELECT "to_node", "to_interface", "from_node" FROM "apic_endpoint_move" '
                f"WHERE $timeFilter AND {addr}",
                color="orange",
                title="to_node",
                text="to_interface",
                tags="from_node,to_node",
            ),
            annotation(
                "Move causes",
                f'SELECT "cause", "evidence" FROM "move_analysis" WHERE $timeFilter AND {addr}',
                color="purple",
                title="cause",
                text="evidence",
                tags="cause",
            ),
            incident_annotation(in_addrs),
            annotation(
                "Anomalies",
                'SELECT "kind", "detail" FROM "apic_endpoint_anomaly" '
                f"WHERE $timeFilter AND {addr}",
                color="red",
                title="kind",
                text="detail",
                tags="kind",
            ),
        ],
    )


# ------------------------------------------------------------------ interfaces
def interfaces() -> Json:
    sel = '"agent" =~ /^$agent$/ AND "ifindex" =~ /^$ifindex$/'
    by = f'{GT}, "agent", "ifindex" fill(null)'
    alias = "$col $tag_agent:$tag_ifindex"

    def sflow_rates(title: str, fields: list[tuple[str, str]], unit: str, desc: str,
                    scale: str = "") -> Json:  # fmt: skip
        cols = ", ".join(rate(f, a, scale) for f, a in fields)
        return timeseries(
            title,
            [
                target(
                    f'SELECT {cols} FROM "sflow_if_counters" WHERE $timeFilter AND {sel} {by}',
                    alias=alias,
                )
            ],  # fmt: skip
            unit=unit,
            desc=desc,
        )

    return dashboard(
        "fabricscope-interfaces",
        "fabricscope / Interfaces",
        "Per-port counters from sFlow (sflow_if_counters, sflow_ethernet) and leaf port state "
        "from the APIC (apic_interface).",
        ["sflow", "apic", "interfaces"],
        [
            (
                sflow_rates(
                    "Throughput in / out",
                    [("if_in_octets", "in"), ("if_out_octets", "out")],
                    "bps",
                    "Bits per second from the interface octet counters.",
                    scale=" * 8",
                ),
                24,
                8,
            ),
            (
                sflow_rates(
                    "Packets in / out",
                    [
                        ("if_in_ucast_pkts", "in_ucast"),
                        ("if_out_ucast_pkts", "out_ucast"),
                        ("if_in_multicast_pkts", "in_mcast"),
                        ("if_out_multicast_pkts", "out_mcast"),
                    ],
                    "pps",
                    "Unicast and multicast packets per second.",
                ),
                12,
                8,
            ),
            (
                sflow_rates(
                    "Broadcast packets (storm)",
                    [("if_in_broadcast_pkts", "in_bcast"), ("if_out_broadcast_pkts", "out_bcast")],
                    "pps",
                    "Broadcast packets per second: a sudden jump on many ports is a broadcast "
                    "storm (loop).",
                ),
                12,
                8,
            ),
            (
                sflow_rates(
                    "Errors and discards",
                    [
                        ("if_in_errors", "in_errors"),
                        ("if_out_errors", "out_errors"),
                        ("if_in_discards", "in_discards"),
                        ("if_out_discards", "out_discards"),
                    ],
                    "pps",
                    "Errored and discarded packets per second.",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Ethernet errors (FCS, alignment, symbol)",
                    [
                        target(
                            f"SELECT {rate('dot3_stats_fcs_errors', 'fcs')}, "
                            f"{rate('dot3_stats_alignment_errors', 'alignment')}, "
                            f'{rate("dot3_stats_symbol_errors", "symbol")} FROM "sflow_ethernet" '
                            f"WHERE $timeFilter AND {sel} {by}",
                            alias=alias,
                        )
                    ],
                    unit="pps",
                    desc="dot3 error counters per second (sflow_ethernet).",
                ),
                12,
                8,
            ),
            (
                state_timeline(
                    "sFlow interface oper state",
                    [
                        target(
                            'SELECT last("if_oper_up") AS "oper_up" FROM "sflow_if_counters" '
                            f'WHERE $timeFilter AND {sel} {GT}, "agent", "ifindex" fill(previous)',
                            alias="$tag_agent:$tag_ifindex",
                        )
                    ],
                    desc="if_oper_up (from ifOperStatus) per sFlow interface: 1 up, 0 down.",
                ),
                12,
                8,
            ),
            (
                state_timeline(
                    "APIC leaf port oper state",
                    [
                        target(
                            'SELECT last("oper_up") AS "oper_up" FROM "apic_interface" '
                            f'WHERE $timeFilter AND {FABRIC} {GT}, "node", "interface" '
                            "fill(previous)",
                            alias="node $tag_node $tag_interface",
                        )
                    ],
                    desc="apic_interface oper_up per leaf port (ethpmPhysIf operSt).",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "APIC leaf port throughput",
                    [
                        target(
                            'SELECT mean("in_bytes_rate") * 8 AS "in", mean("out_bytes_rate") * 8 '
                            f'AS "out" FROM "apic_interface" WHERE $timeFilter AND {FABRIC} '
                            f'{GT}, "node", "interface" fill(null)',
                            alias="$col node $tag_node $tag_interface",
                        )
                    ],
                    unit="bps",
                    desc="APIC eqptIngrTotal5min / eqptEgrTotal5min bytesRate (5-minute averages).",
                ),
                24,
                8,
            ),
        ],
        variables=[
            fabric_var("apic_interface"),
            variable("agent", 'SHOW TAG VALUES FROM "sflow_if_counters" WITH KEY = "agent"'),
            variable(
                "ifindex",
                'SHOW TAG VALUES FROM "sflow_if_counters" WITH KEY = "ifindex" '
                'WHERE "agent" =~ /^$agent$/',
            ),
        ],
    )


# ------------------------------------------------------------------ hosts
def hosts() -> Json:
    h = '"host" =~ /^$host$/'
    by = f'{GT}, "host" fill(null)'
    alias = "$col $tag_host"
    vm = '"vm" =~ /^$vm$/'
    vby = f'{GT}, "host", "vm" fill(null)'
    valias = "$col $tag_vm ($tag_host)"

    def q(sel: str, meas: str, where: str = h, group: str = by) -> str:
        return f'SELECT {sel} FROM "{meas}" WHERE $timeFilter AND {where} {group}'

    return dashboard(
        "fabricscope-hosts",
        "fabricscope / Hosts",
        "Host sFlow (hsflowd) hosts in Telegraf's schema (cpu, mem, system, disk, diskio, net) "
        "and per-VM counters (sflow_virt_*).",
        ["sflow", "hosts", "telegraf"],
        [
            (
                timeseries(
                    "CPU usage",
                    [
                        target(
                            q(
                                'mean("usage_user") AS "user", mean("usage_system") AS "system", '
                                'mean("usage_iowait") AS "iowait", mean("usage_steal") AS "steal", '
                                'mean("usage_softirq") AS "softirq"',
                                "cpu",
                                f"{h} AND \"cpu\" = 'cpu-total'",
                            ),
                            alias=alias,
                        )
                    ],
                    unit="percent",
                    stack=True,
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Load average",
                    [
                        target(
                            q(
                                'mean("load1") AS "load1", mean("load5") AS "load5", '
                                'mean("load15") AS "load15"',
                                "system",
                            ),
                            alias=alias,
                        )
                    ],
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Memory",
                    [
                        target(
                            q(
                                'mean("used") AS "used", mean("cached") AS "cached", '
                                'mean("buffered") AS "buffered", mean("free") AS "free"',
                                "mem",
                            ),
                            alias=alias,
                        )
                    ],
                    unit="bytes",
                    stack=True,
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Memory and disk used %",
                    [
                        target(q('mean("used_percent") AS "mem_used"', "mem"), alias=alias),
                        target(
                            q('mean("used_percent") AS "disk_used"', "disk"),
                            ref="B",
                            alias=alias,
                        ),
                    ],
                    unit="percent",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Disk I/O",
                    [
                        target(
                            q(
                                f"{rate('read_bytes', 'read')}, {rate('write_bytes', 'write')}",
                                "diskio",
                            ),  # fmt: skip
                            alias=alias,
                        )
                    ],
                    unit="Bps",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Network",
                    [
                        target(
                            q(
                                f"{rate('bytes_recv', 'in', ' * 8')}, "
                                f"{rate('bytes_sent', 'out', ' * 8')}",
                                "net",
                            ),
                            alias=alias,
                        ),
                        target(
                            q(
                                f"{rate('err_in')}, {rate('err_out')}, {rate('drop_in')}, "
                                f"{rate('drop_out')}",
                                "net",
                            ),
                            ref="B",
                            alias=alias,
                        ),
                    ],
                    unit="bps",
                    desc="Host-total network throughput (bits/s) and errors/drops (per second).",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "VM CPU",
                    [
                        target(
                            q(rate("cpu_time", "cpu", " / 10"), "sflow_virt_cpu", vm, vby),
                            alias=valias,
                        )
                    ],
                    unit="percent",
                    desc="VM CPU time (ms per second / 10 = percent of one vCPU).",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "VM memory",
                    [
                        target(
                            q(
                                'mean("memory") AS "memory", mean("max_memory") AS "max_memory"',
                                "sflow_virt_memory",
                                vm,
                                vby,
                            ),  # fmt: skip
                            alias=valias,
                        )
                    ],
                    unit="bytes",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "VM disk I/O",
                    [
                        target(
                            q(
                                f"{rate('rd_bytes', 'read')}, {rate('wr_bytes', 'write')}",
                                "sflow_virt_disk_io",
                                vm,
                                vby,
                            ),  # fmt: skip
                            alias=valias,
                        )
                    ],
                    unit="Bps",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "VM network",
                    [
                        target(
                            q(
                                f"{rate('bytes_in', 'in', ' * 8')}, "
                                f"{rate('bytes_out', 'out', ' * 8')}",
                                "sflow_virt_net_io",
                                vm,
                                vby,
                            ),
                            alias=valias,
                        )
                    ],
                    unit="bps",
                ),
                12,
                8,
            ),
        ],
        variables=[
            variable("host", 'SHOW TAG VALUES FROM "cpu" WITH KEY = "host"'),
            variable(
                "vm",
                'SHOW TAG VALUES FROM "sflow_virt_cpu" WITH KEY = "vm" WHERE "host" =~ /^$host$/',
            ),
        ],
    )


# ------------------------------------------------------------------ flows
def flows() -> Json:
    ag = '"agent" =~ /^$agent$/'
    return dashboard(
        "fabricscope-flows",
        "fabricscope / Flows",
        "Sampled traffic (sflow_flows: top-N keys per agent and interval, the rest as 'other') "
        "and traffic per EPG (traffic_epg).",
        ["sflow", "flows"],
        [
            (
                timeseries(
                    "Traffic by VLAN",
                    [
                        target(
                            'SELECT sum("bytes") * 8000 / $__interval_ms AS "bps" '
                            'FROM "sflow_flows" '
                            f'WHERE $timeFilter AND {ag} {GT}, "vlan" fill(none)',
                            alias="vlan $tag_vlan",
                        )
                    ],
                    unit="bps",
                    desc="Estimated bits per second per VLAN (Σ bytes × 8 over the interval; the "
                    "panel's minimum interval is the 10 s flow interval).",
                    stack=True,
                    interval="10s",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Traffic by EPG",
                    [
                        target(
                            'SELECT sum("bytes") * 8000 / $__interval_ms AS "bps" '
                            'FROM "traffic_epg" '
                            f'WHERE $timeFilter {GT}, "tenant", "epg" fill(none)',
                            alias="$tag_tenant/$tag_epg",
                        )
                    ],
                    unit="bps",
                    desc="Bits per second attributed to each EPG (traffic_epg, analyzer).",
                    stack=True,
                ),
                12,
                8,
            ),
            (
                top_table(
                    "Top talkers (source → destination)",
                    # InfluxDB sums each flow key over the whole range and keeps the top 20:
                    # 20 rows reach the browser, not every key's series.
                    'SELECT top("bytes", "src_ip", "dst_ip", "ip_protocol", 20) AS "bytes" '
                    'FROM (SELECT sum("bytes") AS "bytes" FROM "sflow_flows" WHERE $timeFilter '
                    f"AND {ag} AND \"src_ip\" != 'other' "
                    'GROUP BY "src_ip", "dst_ip", "ip_protocol") WHERE $timeFilter',
                    desc="Flow keys by estimated bytes in the time range, top 20 (the per-agent "
                    "'other' row excluded).",
                    unit="bytes",
                ),
                12,
                10,
            ),
            (
                table(
                    "Top sources (MAC)",
                    [
                        target(
                            'SELECT sum("bytes") AS "bytes" FROM "sflow_flows" WHERE $timeFilter '
                            f"AND {ag} AND \"src_mac\" != 'other' "
                            f'{GT}, "src_mac", "vlan" fill(none)',
                            alias="$tag_src_mac (vlan $tag_vlan)",
                        )
                    ],
                    reduce_sum=True,
                    limit=20,
                    unit="bytes",
                ),
                12,
                10,
            ),
            (
                table(
                    "Traffic per EPG",
                    [
                        target(
                            'SELECT sum("bytes") AS "bytes", sum("packets") AS "packets" '
                            f'FROM "traffic_epg" WHERE $timeFilter {GT}, "tenant", "vrf", "bd", '
                            '"epg" fill(none)',
                            alias="$tag_tenant/$tag_epg ($tag_bd, $tag_vrf) $col",
                        )
                    ],
                    reduce_sum=True,
                    unit="short",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Sampled packets by agent",
                    [
                        target(
                            'SELECT sum("packets") * 1000 / $__interval_ms AS "pps", '
                            'sum("samples") AS "samples" '
                            f'FROM "sflow_flows" WHERE $timeFilter AND {ag} {GT}, "agent" '
                            "fill(none)",
                            alias="$col $tag_agent",
                        )
                    ],
                    desc="Estimated packets per second and raw flow samples per interval.",
                    interval="10s",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Drops by reason",
                    [
                        target(
                            'SELECT sum("samples") AS "drops" FROM "sflow_drops" '
                            f'WHERE $timeFilter AND {ag} {GT}, "reason" fill(none)',
                            alias="$tag_reason",
                        )
                    ],
                    desc="Discarded-packet samples (sflow_drops) per interval, per reason.",
                    draw="bars",
                    stack=True,
                ),
                24,
                8,
            ),
        ],
        variables=[
            variable("agent", 'SHOW TAG VALUES FROM /^sflow_(flows|drops)$/ WITH KEY = "agent"')
        ],
    )


# ------------------------------------------------------------------ pipeline health
STATS = '"fabricscope_stats"'
NO_AGENT = '"agent" = ' + "''"  # process-level rows, not the collector's per-agent ones
COLLECTOR = '"process" = ' + "'collector'" + ' AND "instance" =~ /^$instance$/'
ANY_PROCESS = '"process" =~ /^$process$/ AND "instance" =~ /^$instance$/'
ANALYZERS = '"process" = ' + "'analyzers'"
BY_ANALYZER = f'{GT}, "analyzer", "fabric"'
OK_FAILED = [
    {
        "type": "value",
        "options": {
            "true": {"text": "ok", "color": "green"},
            "1": {"text": "ok", "color": "green"},
            "false": {"text": "failed", "color": "red"},
            "0": {"text": "failed", "color": "red"},
        },
    }
]


def pipeline_health() -> Json:
    """fabricscope's own counters (fabricscope_stats, docs/measurements.md): collector input and
    loss, every writer's output, and each analyzer's runs."""

    def collector_rate(title: str, field: str, alias: str, desc: str, red: bool) -> Json:
        return stat(
            title,
            [
                target(
                    f"SELECT {rate(field, alias)} FROM {STATS} WHERE $timeFilter AND {COLLECTOR} "
                    f'AND {NO_AGENT} {GT}, "instance" fill(null)'
                )
            ],
            desc=desc,
            unit="cps",
            red_at=1 if red else None,
        )

    datagrams = collector_rate(
        "sFlow datagrams /s",
        "datagrams",
        "datagrams",
        "Datagrams received by the collector (all instances, latest interval).",
        False,
    )
    lost = collector_rate(
        "Lost datagrams /s",
        "lost_datagrams",
        "lost",
        "Gaps in the agents' datagram sequence numbers: datagrams sent but never received "
        "(network or socket-buffer loss).",
        True,
    )
    decode = collector_rate(
        "Decode errors /s",
        "decode_errors",
        "decode_errors",
        "Datagrams the decoder rejected (malformed or truncated).",
        True,
    )
    rejected = collector_rate(
        "Rejected sources /s",
        "rejected_sources",
        "rejected",
        "Datagrams dropped because their source or agent address is outside the collector's "
        "allow-list (FABRICSCOPE_SFLOW_ALLOW; compose: SFLOW_ALLOW, default 10.0.0.0/8). "
        "Non-zero: an agent outside the list sends to us and its data is discarded.",
        True,
    )
    dropped = stat(
        "Points dropped /s",
        [
            target(
                f"SELECT {rate('points_dropped', 'dropped')} FROM {STATS} WHERE $timeFilter AND "
                f'{ANY_PROCESS} AND {NO_AGENT} {GT}, "process", "instance" fill(null)'
            )
        ],
        desc="Points no process could write or keep (queue and spool full, rejected lines).",
        unit="cps",
        red_at=1,
    )
    coll_in = timeseries(
        "Collector: datagrams and samples /s",
        [
            target(
                f"SELECT {rate('datagrams')}, {rate('samples')} FROM {STATS} WHERE $timeFilter "
                f'AND {COLLECTOR} AND {NO_AGENT} {GT}, "instance" fill(null)',
                alias="$col $tag_instance",
            )
        ],
        desc="Received sFlow datagrams and the samples inside them, per collector instance.",
        unit="cps",
    )
    coll_err = timeseries(
        "Collector: decode errors, lost datagrams, rejected sources /s",
        [
            target(
                f"SELECT {rate('decode_errors')}, {rate('lost_datagrams')}, "
                f"{rate('rejected_sources')} FROM {STATS} WHERE "
                f'$timeFilter AND {COLLECTOR} AND {NO_AGENT} {GT}, "instance" fill(null)',
                alias="$col $tag_instance",
            )
        ],
        desc="Decoder rejects, sequence-number gaps and datagrams from sources outside the "
        "allow-list, per collector instance. Non-zero loss usually means a full socket buffer "
        "or a lossy path from the agents.",
        unit="cps",
    )
    per_agent = timeseries(
        "Lost datagrams by agent /s",
        [
            target(
                f"SELECT {rate('lost_datagrams', 'lost')} FROM {STATS} WHERE $timeFilter AND "
                f'{COLLECTOR} AND "agent" =~ /^$agent$/ AND "agent" != ' + "'' "
                f'{GT}, "agent", "instance" fill(null)',
                alias="$tag_agent ($tag_instance)",
            )
        ],
        desc="Sequence gaps per sFlow agent: tells which switch or host (or which path) loses "
        "datagrams.",
        unit="cps",
    )
    written = timeseries(
        "Writer: points written / spooled / dropped /s",
        [
            target(
                f"SELECT {rate('points_written', 'written')}, "
                f"{rate('points_spooled', 'spooled')}, {rate('points_dropped', 'dropped')} "
                f"FROM {STATS} WHERE $timeFilter AND {ANY_PROCESS} AND {NO_AGENT} "
                f'{GT}, "process", "instance" fill(null)',
                alias="$col $tag_process/$tag_instance",
            )
        ],
        desc="What each process's InfluxDB writer did with its points: written, put in the disk "
        "spool (InfluxDB slow or down), or dropped.",
        unit="cps",
    )
    queue = timeseries(
        "Writer: queue depth",
        [
            target(
                f'SELECT max("queue_depth") AS "queue_depth" FROM {STATS} WHERE $timeFilter AND '
                f'{ANY_PROCESS} AND {NO_AGENT} {GT}, "process", "instance" fill(null)',
                alias="$tag_process/$tag_instance",
            )
        ],
        desc="Lines waiting in each writer's in-memory queue. A queue that keeps growing means "
        "InfluxDB cannot keep up.",
    )
    per_analyzer = "$tag_analyzer ($tag_fabric)"
    an_ok = stat(
        "Analyzers: last run",
        [
            target(
                f'SELECT last("last_success") AS "ok" FROM {STATS} WHERE $timeFilter AND '
                f"{ANALYZERS} {BY_ANALYZER} fill(none)",
                alias=per_analyzer,
            )
        ],
        desc="Whether each analyzer's latest run succeeded (analyzer=move_cause, traffic). "
        "A failed run is retried at the next interval; its error is in the last_error field "
        "and the analyzer's log.",
        mappings=OK_FAILED,
    )
    an_failures = stat(
        "Analyzers: failed runs",
        [
            target(
                f'SELECT last("failures") AS "failures" FROM {STATS} WHERE $timeFilter AND '
                f"{ANALYZERS} {BY_ANALYZER} fill(none)",
                alias=per_analyzer,
            )
        ],
        desc="Failed runs of each analyzer since its process started (InfluxDB unreachable or "
        "refusing queries, or a bug).",
        red_at=1,
    )
    an_duration = timeseries(
        "Analyzers: run duration",
        [
            target(
                f'SELECT max("last_duration_ms") AS "duration" FROM {STATS} WHERE $timeFilter '
                f"AND {ANALYZERS} {BY_ANALYZER} fill(none)",
                alias=per_analyzer,
            )
        ],
        desc="How long each analyzer run took. A run close to its interval means the next one "
        "is skipped (runs never overlap).",
        unit="ms",
        draw="points",
    )
    an_work = timeseries(
        "Analyzers: work per interval",
        [
            target(
                'SELECT non_negative_difference(max("runs")) AS "runs", '
                'non_negative_difference(max("failures")) AS "failures", '
                'non_negative_difference(max("moves_analysed")) AS "moves analysed", '
                'non_negative_difference(max("findings_written")) AS "findings written", '
                'non_negative_difference(max("rows_written")) AS "traffic rows written" '
                f"FROM {STATS} WHERE $timeFilter AND {ANALYZERS} {BY_ANALYZER} fill(none)",
                alias="$col · " + per_analyzer,
            )
        ],
        desc="Per interval: analyzer runs and failures, moves examined and findings written by "
        "move_cause (a finding is rewritten only when it changed), traffic_epg/traffic_endpoint "
        "points written by traffic.",
        draw="bars",
    )
    return dashboard(
        "fabricscope-pipeline-health",
        "fabricscope / Pipeline health",
        "fabricscope's own counters (measurement fabricscope_stats): is sFlow arriving, is it "
        "decoded, is every point written, do the analyzers run?",
        ["sflow", "pipeline"],
        [
            (datagrams, 5, 4),
            (lost, 5, 4),
            (decode, 5, 4),
            (rejected, 5, 4),
            (dropped, 4, 4),
            (coll_in, 12, 8),
            (coll_err, 12, 8),
            (per_agent, 24, 8),
            (written, 12, 8),
            (queue, 12, 8),
            (an_ok, 6, 8),
            (an_failures, 6, 8),
            (an_duration, 12, 8),
            (an_work, 24, 8),
        ],
        variables=[
            variable("process", f'SHOW TAG VALUES FROM {STATS} WITH KEY = "process"'),
            variable(
                "instance",
                f'SHOW TAG VALUES FROM {STATS} WITH KEY = "instance" '
                'WHERE "process" =~ /^$process$/',
            ),
            variable(
                "agent",
                f'SHOW TAG VALUES FROM {STATS} WITH KEY = "agent" WHERE "process" = '
                + "'collector'",
            ),
        ],
    )


BUILDERS = {
    "fabric-overview.json": fabric_overview,
    "endpoint-moves.json": endpoint_moves,
    "endpoint-detail.json": endpoint_detail,
    "interfaces.json": interfaces,
    "hosts.json": hosts,
    "flows.json": flows,
    "pipeline-health.json": pipeline_health,
}


def render(d: Json) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def build() -> dict[str, str]:
    return {name: render(fn()) for name, fn in BUILDERS.items()}


def main(argv: list[str]) -> int:
    out = build()
    if "--check" in argv:
        stale = [n for n, text in out.items() if not (DASHBOARDS / n).exists()
                 or (DASHBOARDS / n).read_text() != text]  # fmt: skip
        for n in stale:
            print(f"{n} is stale: run python grafana/build_dashboards.py", file=sys.stderr)  # noqa: T201
        return 1 if stale else 0
    for name, text in out.items():
        (DASHBOARDS / name).write_text(text)
        print(f"wrote grafana/dashboards/{name}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
