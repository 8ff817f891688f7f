"""Analyzer stage: traffic attribution — `sflow_flows` × endpoint table → `traffic_epg`,
`traffic_endpoint`.

Each run takes the last *completed* interval (aligned to `interval_s`, ending `lag_s` ago so the
collector's flows for it have been flushed), attributes every flow row to its source endpoint
(MAC first, then IP) using the latest `apic_endpoint_move` of each address, and writes:

- `traffic_epg` (tags fabric, epg, bd, vrf, tenant; fields bytes, packets, endpoints) — traffic
  sent by each EPG; flows whose source is not a known endpoint go to epg=`unattributed` so
  totals still add up to the sFlow total;
- `traffic_endpoint` (tags fabric, addr; fields bytes, packets, epg, bd, vrf, tenant, node,
  interface) for the top `top_n` sending endpoints.

Points are timestamped at the interval's end: a re-run of the same interval overwrites them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from analyzers.stats import AnalyzerStats
from fabricscope import macs
from influx import reads
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from influx.sink import LineSink

log = logging.getLogger(__name__)
NS = 1_000_000_000
UNATTRIBUTED = "unattributed"


@dataclass
class TrafficConfig:
    fabric: str = "fabric1"
    interval_s: int = 60
    lag_s: float = 20.0  # flows are flushed by the collector every 10 s by default
    directory_lookback_s: float = 7 * 86400.0  # how far back an endpoint's last move counts
    top_n: int = 50


@dataclass
class _Acc:
    bytes: int = 0
    packets: int = 0


class TrafficAnalyzer:
    name = "traffic"

    def __init__(
        self,
        q: InfluxQuery,
        sink: LineSink,
        cfg: TrafficConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.q = q
        self.sink = sink
        self.cfg = cfg or TrafficConfig()
        self.clock = clock
        self.stats = AnalyzerStats(
            self.name, self.cfg.fabric, work=dict.fromkeys(("flow_rows", "rows_written"), 0)
        )

    def interval_for(self, now_ns: int) -> tuple[int, int]:
        """[start, end) of the last interval that ended at least `lag_s` before now."""
        step = self.cfg.interval_s * NS
        end = (now_ns - int(self.cfg.lag_s * NS)) // step * step
        return end - step, end

    def run_once(self, now_ns: int | None = None) -> list[str]:
        cfg = self.cfg
        now_ns = now_ns if now_ns is not None else int(self.clock() * NS)
        start, end = self.interval_for(now_ns)
        rows = reads.flows(self.q, start, end)
        if not rows:
            return []
        directory = reads.endpoint_directory(
            self.q, cfg.fabric, end - int(cfg.directory_lookback_s * NS), end
        )
        by_mac: dict[str, reads.EndpointInfo] = {}
        for d in directory.values():
            for m in (macs.to_sflow(d.addr), macs.to_sflow(d.mac)):
                # A MAC endpoint beats an IP entry's rewrite MAC (it is the L2 owner).
                if m and (m not in by_mac or macs.to_sflow(d.addr)):
                    by_mac[m] = d
        epgs: dict[tuple[str, str, str, str], _Acc] = {}
        eps: dict[str, tuple[reads.EndpointInfo, _Acc]] = {}
        for r in rows:
            info: reads.EndpointInfo | None = by_mac.get(r.src_mac) or directory.get(r.src_ip)
            if info is None:
                key = (UNATTRIBUTED, "", "", "")
            else:
                key = (info.epg or UNATTRIBUTED, info.bd, info.vrf, info.tenant)
                ep = eps.setdefault(info.addr, (info, _Acc()))[1]
                ep.bytes += r.bytes
                ep.packets += r.packets
            acc = epgs.setdefault(key, _Acc())
            acc.bytes += r.bytes
            acc.packets += r.packets
        lines: list[str] = []
        for (epg, bd, vrf, tenant), acc in sorted(epgs.items()):
            n = sum(1 for i, _ in eps.values() if (i.epg or UNATTRIBUTED) == epg and i.bd == bd)
            line = encode_line(
                "traffic_epg",
                # Empty tag values are written as "unknown" by the encoder, never dropped.
                {"fabric": cfg.fabric, "epg": epg, "bd": bd, "vrf": vrf, "tenant": tenant},
                {"bytes": acc.bytes, "packets": acc.packets, "endpoints": n},
                end,
            )
            if line:
                lines.append(line)
        top = sorted(eps.values(), key=lambda x: (-x[1].bytes, x[0].addr))[: cfg.top_n]
        for info, acc in top:
            line = encode_line(
                "traffic_endpoint",
                {"fabric": cfg.fabric, "addr": info.addr},
                {"bytes": acc.bytes, "packets": acc.packets, "epg": info.epg or None,
                 "bd": info.bd or None, "vrf": info.vrf or None, "tenant": info.tenant or None,
                 "node": info.node or None, "interface": info.interface or None},
                end,
            )  # fmt: skip
            if line:
                lines.append(line)
        self.sink.write_lines(lines)
        self.stats.count("flow_rows", len(rows))
        self.stats.count("rows_written", len(lines))
        log.debug("traffic: %d flow rows → %d lines, interval end %d", len(rows), len(lines), end)
        return lines
