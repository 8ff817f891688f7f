"""The evidence charts of an incident page (stage: api/UI): which ports and hosts an incident
names, what to read around it, and how each chart is drawn (api/charts.py).

An incident names its places (`node-101/eth1/5`, `host:esx-03`, `bd:…`, `vm:…`); its timeline's
moves add the ports they left and joined. Around the incident (its span padded on both sides) the
page shows: leaf port oper state and ingress flood rate (`apic_interface`), hypervisor NIC state
(`sflow_if_counters` if_oper_up), host CPU (`cpu` usage_active) and network (`net`, bit/s), with
the incident shaded, a marker at its start and one per `apic_fault` change.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from api.charts import ChartStyle, Marker, Series, time_chart
from influx.query import InfluxQuery
from influx.reads import incident_pages as reads

MAX_PORTS = 6
MAX_HOSTS = 4
MIN_PAD_S = 300  # at least 5 minutes before and after the incident
_PORT = re.compile(r"^node-(\d+)/(\S+)$")
_NIC = re.compile(r"/if\d+$")
UP_DOWN = {0.0: "down", 1.0: "up"}


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    svg: str
    subjects: int  # how many ports/hosts it draws
    source: str  # measurement and field, shown under the chart


def ports_of(inc: dict[str, Any], timeline: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Leaf ports: the incident's places first, then the ports its moves left and joined (most
    frequent first), at most MAX_PORTS."""
    out: list[tuple[str, str]] = []
    for p in inc.get("places", []):
        m = _PORT.match(p)
        if m and (m[1], m[2]) not in out:
            out.append((m[1], m[2]))
    seen: Counter[tuple[str, str]] = Counter()
    for mv in timeline:
        for side in ("from", "to"):
            node, iface = mv.get(f"{side}_node"), mv.get(f"{side}_interface")
            if node and iface:
                seen[(str(node), str(iface))] += 1
    for port, _n in seen.most_common():
        if port not in out:
            out.append(port)
    return out[:MAX_PORTS]


def hosts_of(inc: dict[str, Any], timeline: Sequence[dict[str, Any]]) -> list[str]:
    """Hypervisors: `host:` places of the incident and of its moves, at most MAX_HOSTS."""
    out: list[str] = []
    places = list(inc.get("places", []))
    for mv in timeline:
        places += [p for p in str(mv.get("places", "")).split(",") if p]
    for p in places:
        # `host:esx-03` or one NIC of it, `host:esx-03/if3`: the charts are per host.
        h = p.strip().removeprefix("host:") if p.strip().startswith("host:") else ""
        h = _NIC.sub("", h)
        if h and h not in out:
            out.append(h)
    return out[:MAX_HOSTS]


def related_faults(
    faults: Sequence[dict[str, Any]], inc: dict[str, Any], ports: Sequence[tuple[str, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(faults on this incident's leaf ports or BDs, faults elsewhere in the fabric). A loop
    fault on another leaf is not evidence of this incident (a failover during an unrelated
    loop must not show that loop's fault as its own)."""
    bds = {p[3:] for p in inc.get("places", []) if p.startswith("bd:")}
    on: list[dict[str, Any]] = []
    off: list[dict[str, Any]] = []
    for f in faults:
        node, iface, bd = str(f.get("node", "")), str(f.get("interface", "")), f.get("bd")
        if (node, iface) in ports or (bd and bd in bds):
            on.append(f)
        else:
            off.append(f)
    return on, off


def window_s(start_ns: int, end_ns: int, now_ns: int) -> tuple[float, float]:
    """The charts' time range: the incident padded by its own length (at least 5 min) on each
    side, never beyond now."""
    start, end = start_ns / reads.NS, end_ns / reads.NS
    pad = max(MIN_PAD_S, end - start)
    t1 = min(end + pad, max(now_ns / reads.NS, end + 60))
    return start - pad, t1


def grafana_endpoint_url(base: str, addr: str, t0: float, t1: float) -> str:
    """The Grafana endpoint dashboard (grafana/build_dashboards.py: uid fabricscope-endpoint-
    detail, variable `address`) for one endpoint over the charts' time range."""
    q = urlencode({"var-address": addr, "from": int(t0 * 1000), "to": int(t1 * 1000)})
    return f"{base.rstrip('/')}/d/fabricscope-endpoint-detail/?{q}"


def _label_port(key: tuple[str, ...]) -> str:
    return f"node-{key[0]} {key[1]}"


async def evidence_charts(
    iq: InfluxQuery,
    inc: dict[str, Any],
    timeline: Sequence[dict[str, Any]],
    start_ns: int,
    end_ns: int,
    now_ns: int,
) -> tuple[list[Chart], list[dict[str, Any]], list[dict[str, Any]], tuple[float, float]]:
    """(charts, fault changes on the incident's ports/BDs, fault changes elsewhere in the
    fabric, (t0, t1)) for the incident page. Only the incident's own faults are chart markers."""
    t0, t1 = window_s(start_ns, end_ns, now_ns)
    since_ns, until_ns = int(t0 * reads.NS), int(t1 * reads.NS) + 1
    fabric = inc.get("fabric")
    ports = ports_of(inc, timeline)
    hosts = hosts_of(inc, timeline)
    # The page's reads are independent: ask InfluxDB for them at once.
    # A port-channel (`node-101/po1`) has no row of its own: chart its member ports.
    bundles = [p for p in ports if p[1].startswith("po")]
    members = await reads.bundle_members(iq, fabric, bundles, since_ns, until_ns)
    labels: dict[tuple[str, str], str] = {}
    phys: list[tuple[str, str]] = []
    for node, iface in ports:
        for m in members.get((node, iface), [iface]):
            if (node, m) not in labels:
                phys.append((node, m))
                labels[(node, m)] = f"node-{node} {m}" + (f" ({iface})" if m != iface else "")
    ports = phys[:MAX_PORTS]
    faults_all, (oper, flood), hs = await asyncio.gather(
        reads.faults(iq, fabric, since_ns, until_ns),
        reads.port_series(iq, fabric, ports, since_ns, until_ns),
        reads.host_series(iq, hosts, since_ns, until_ns),
    )
    faults, elsewhere = related_faults(faults_all, inc, ports)
    span = (start_ns / reads.NS, end_ns / reads.NS)
    event = Marker(span[0], "start", "event", str(inc.get("summary", "")))
    fault_marks = [
        Marker(
            float(f["t"]),
            str(f.get("code", "fault")) + ("" if f.get("active", True) else " cleared"),
            "fault",
            " ".join(str(f.get(k, "")) for k in ("node", "interface", "descr")).strip(),
        )
        for f in faults
        if f.get("t") is not None
    ]
    # Two charts side by side in the page's 1100 px column, drawn at their natural size.
    style = ChartStyle(width=540, height=210)
    common: dict[str, Any] = {"start": t0, "end": t1, "span": span, "style": style}
    charts: list[Chart] = []
    if ports:
        order = {p: i for i, p in enumerate(ports)}

        def port_series(d: dict[tuple[str, ...], reads.TimeSeries], step: bool) -> list[Series]:
            keys = sorted(d, key=lambda k: order.get((k[0], k[1]), 99))
            return [
                Series(labels.get((k[0], k[1]), _label_port(k)), d[k].points, step=step)
                for k in keys
            ]

        charts.append(
            Chart(
                "port-oper",
                "Leaf port oper state",
                time_chart(
                    "Leaf port oper state",
                    port_series(oper, True),
                    markers=[event, *fault_marks],
                    states=UP_DOWN,
                    chart_id="port-oper",
                    **common,
                ),
                len(ports),
                "apic_interface oper_up",
            )
        )
        charts.append(
            Chart(
                "port-flood",
                "Leaf port ingress flood rate",
                time_chart(
                    "Ingress flood rate per leaf port",
                    port_series(flood, True),  # a rate holds over its poll interval
                    markers=[event, *fault_marks],
                    unit="pps",
                    chart_id="port-flood",
                    **common,
                ),
                len(ports),
                "apic_interface in_flood_pkts_cum between polls, else in_flood_pkts_rate "
                "(broadcast counted as flood)",
            )
        )
    if hosts:
        nic = [
            Series(f"{k[0]} ifindex {k[1]}", s.points, step=True)
            for k, s in sorted(hs["nic"].items(), key=lambda kv: (kv[0][0], int(kv[0][1] or 0)))
        ]
        charts.append(
            Chart(
                "host-nic",
                "Hypervisor NIC state",
                time_chart(
                    "Hypervisor NIC oper state",
                    nic,
                    markers=[event],
                    states=UP_DOWN,
                    chart_id="host-nic",
                    **common,
                ),
                len(hosts),
                "sflow_if_counters if_oper_up (lowest per interval)",
            )
        )
        cpu = [Series(k[0], s.points) for k, s in sorted(hs["cpu"].items())]
        charts.append(
            Chart(
                "host-cpu",
                "Host CPU",
                time_chart(
                    "Host CPU busy",
                    cpu,
                    markers=[event],
                    unit="%",
                    y_min=0,
                    y_max=100,
                    chart_id="host-cpu",
                    **common,
                ),
                len(hosts),
                "cpu usage_active (cpu-total)",
            )
        )
        net = [Series(f"{k[0]} in", s.points) for k, s in sorted(hs["net_rx"].items())]
        net += [Series(f"{k[0]} out", s.points) for k, s in sorted(hs["net_tx"].items())]
        charts.append(
            Chart(
                "host-net",
                "Host network",
                time_chart(
                    "Host network throughput",
                    net,
                    markers=[event],
                    unit="bit/s",
                    chart_id="host-net",
                    **common,
                ),
                len(hosts),
                "net bytes_recv / bytes_sent as bit/s",
            )
        )
    return charts, faults, elsewhere, (t0, t1)
