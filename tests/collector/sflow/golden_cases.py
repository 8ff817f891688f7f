"""Golden line-protocol cases: ``tests/fixtures/sflow/<case>/{NN-*.bin, expected.lp}``.

Real captures are copied from the shared test data; structures with no capture at hand are
encoded here from the structures table (values chosen to exercise unknowns, ±inf, strings).
``expected.lp`` holds the lines the collector writes for the case's datagrams, in order, with
the two receive-time dependent parts taken out (the timestamp, and ``kernel``'s ``boot_time``
= receive time − uptime). Lines are still valid line protocol (the timestamp is optional).

Regenerate after an intended output change (then review the diff!):
    FABRICSCOPE_REGEN_GOLDEN=1 python3 -m pytest tests/collector/sflow/test_golden_lp.py
"""

from __future__ import annotations

import math
import re
import shutil
import struct
from pathlib import Path

from collector.sflow.structures import COUNTERS
from tests.collector.sflow import builder as b

ROOT = Path(__file__).parents[2] / "fixtures" / "sflow"
SHARED = ROOT  # the shared datagrams are already copied under public/ and generated/

COPIED: dict[str, list[str]] = {
    "hsflowd-host": [f"generated/hsflowd-host-00{i}.bin" for i in range(5)],
    "pmacct-flows": [f"generated/pmacct-sfprobe-dg_{i:03d}.bin" for i in range(6)],
    "switch-ports-and-flows": [
        "public/telegraf-switch-15918.bin",
        "public/telegraf-dell-18876.bin",
    ],
    "drops-and-ovs": ["public/telegraf-drop-1036.bin", "public/telegraf-v5-example.bin"],
}

_BOOT = re.compile(r"(,?)boot_time=\d+i")


def normalise(line: str) -> str:
    """Drop the timestamp and kernel boot_time (both follow the receive clock)."""
    head, _, ts = line.rpartition(" ")
    line = head if ts.isdigit() else line
    if line.startswith("kernel,"):
        line = _BOOT.sub("", line).replace(" ,", " ")
    return line


def _block(tag: int, values: dict[str, object]) -> bytes:
    spec = COUNTERS[tag]
    body = b""
    for f in spec.fields:
        v = values.get(f.name, 0)
        if f.string_cap:
            body += b.xdr_string(str(v))
        elif f.code == "f":
            body += struct.pack(">f", v)
        elif f.code in ("Q", "hex64"):
            body += struct.pack(">Q", v)
        else:
            body += struct.pack(">I", v)
    return b.tlv(tag, body)


def _descr(name: str) -> bytes:
    return b.tlv(2000, b.xdr_string(name) + bytes(range(16)) + b.u32(3, 2) + b.xdr_string("6.1.0"))


def _app_host() -> list[bytes]:
    """An hsflowd 2.x host with mod_nvml, mod_json (app counters) and a memcached/http server."""
    records = [
        _descr("gpu-1"),
        _block(23359489, {"device_count": 2, "processes": 3, "gpu_time": 51000,
                          "mem_time": 4200, "mem_bytes_total": 2**35, "mem_bytes_free": 2**34,
                          "ecc_errors": 0xFFFFFFFF, "energy": 91234, "temperature": 61,
                          "fan_speed_pc": 40}),
        _block(2202, {"application": "payments", "status_ok": 1200, "errors_timeout": 3}),
        _block(2203, {"user_time": 4000, "system_time": 900, "memory_used": 2**30,
                      "memory_max": 2**32, "files_open": 40, "files_max": 1024}),
        _block(2206, {"workers_active": 7, "workers_idle": 9, "workers_max": 16}),
        _block(2201, {"method_get_count": 900, "method_post_count": 80,
                      "status_2xx_count": 970, "status_5xx_count": 10}),
        _block(2204, {"cmd_set": 5, "get_hits": 400, "get_misses": 20, "bytes": 2**31}),
        _block(2105, {"vm_name": "OpenJDK 64-Bit Server VM", "vm_vendor": "Eclipse Adoptium",
                      "vm_version": "21.0.2+13"}),
        _block(2106, {"heap_used": 2**28, "gc_count": 17, "thread_num_live": 33}),
    ]  # fmt: skip
    sample = b.counter_sample_expanded(records, seq=1, source=(2, 1))
    return [b.datagram([sample], agent="192.0.2.50", sequence=1, uptime=4_000_000)]


def _switch_asic() -> list[bytes]:
    """A Cumulus-style switch: Broadcom table usage, LACP, port name, a VDI/OVS block."""
    lacp = COUNTERS[7]
    assert lacp.struct is not None
    lacp_body = lacp.struct.pack(b"\x00\x11\x22\x33\x44\x55", b"\x66\x77\x88\x99\xaa\xbb",
                                 7, 0x3D, 0x3D, 0x3D, 0x3D, *range(100, 108))  # fmt: skip
    records = [
        _block(1, {"if_index": 7, "if_type": 6, "if_speed": 25 * 10**9, "if_direction": 1,
                   "if_status": 3, "if_in_octets": 10**12}),
        b.tlv(7, lacp_body),
        _block(1005, {"port_name": "swp7"}),
    ]  # fmt: skip
    ports = b.counter_sample(records, seq=1, source=(0, 7))
    asic = b.counter_sample(
        [_block(4413 << 12 | 3, {"host_entries_max": 8192, "ipv4_entries": 512,
                                 "acl_egress_slices_max": 4}),
         _block(2207, {"n_hit": 10**6, "n_missed": 300, "n_flows": 44}),
         _block(2205, {"sessions_current": 2, "rx_bytes": 9000})],
        seq=1, source=(2, 1),
    )  # fmt: skip
    return [b.datagram([ports, asic], agent="10.0.0.7", sequence=9, uptime=777_000)]


def _unknowns() -> list[bytes]:
    """What an agent sends when it knows nothing: all-ones counters, non-finite loads."""
    all_unknown = b"".join(b"\xff" * (4 if f.code == "I" else 8) for f in COUNTERS[1].fields)
    status_unknown = _block(1, {"if_index": 3, "if_status": 0xFFFFFFFF, "if_in_octets": 5,
                                "if_speed": 2**64 - 1})  # fmt: skip
    cpu = _block(2003, {"load_one": math.inf, "load_five": -math.inf, "load_fifteen": math.nan,
                        "cpu_num": 0xFFFFFFFF, "uptime": 100})  # fmt: skip
    samples = [
        b.counter_sample([b.tlv(1, all_unknown)], seq=1, source=(0, 2)),
        b.counter_sample([status_unknown], seq=2, source=(0, 3)),
        b.counter_sample([_descr("blank"), cpu], seq=3, source=(2, 1)),
    ]
    return [b.datagram(samples, agent="192.0.2.99", sequence=1, uptime=100_000)]


def _app_flows() -> list[bytes]:
    """hsflowd mod_json/mod_http transaction samples and MPLS/802.11 extensions on flows."""
    s = b.xdr_string
    app = [
        b.tlv(
            2202,
            s("payments")
            + s("charge")
            + s("card=visa")
            + s("ok")
            + b.u64(512, 2048)
            + b.u32(1500, 0),
        ),
        b.tlv(2203, s("payments") + s("authorize") + s("")),
        b.tlv(2204, s("client-7")),
        b.tlv(2205, s("db-3")),
        b.tlv(
            2206,
            b.u32(2, 1001)
            + s("/api/v1/pay?x=1")
            + s("shop.example")
            + s("")
            + s("curl/8.5")
            + s("198.51.100.7")
            + s("alice")
            + s("application/json")
            + b.u64(300, 1200)
            + b.u32(820, 200),
        ),
        b.tlv(2100, b.u32(6) + bytes([192, 0, 2, 50, 198, 51, 100, 7]) + b.u32(443, 50123)),
    ]
    cache = [b.tlv(2200, b.u32(1, 2) + s("user:42 name") + b.u32(1, 128, 35, 1))]
    http1 = [
        b.tlv(
            2201,
            b.u32(4, 1001)
            + s("/login")
            + s("")
            + s("https://r.example/")
            + s("Mozilla")
            + s("")
            + s("text/html")
            + b.u64(900)
            + b.u32(310, 302),
        )
    ]
    mpls = [
        b.tlv(1008, s("lsp-a") + b.u32(7, 3)),
        b.tlv(1009, s("vc-b") + b.u32(42, 5)),
        b.tlv(1010, s("10.0.0.0/8") + b.u32(8)),
        b.tlv(1011, b.u32(24)),
        b.tlv(
            1014,
            s("fabric-wifi")
            + b"\x02\x00\x00\x00\x00\x09\0\0"
            + b.u32(4, 36)
            + b.u64(866_700_000)
            + b.u32(40, 180, 220),
        ),
        b.tlv(
            1015,
            s("")
            + b"\x02\x00\x00\x00\x00\x09\0\0"
            + b.u32(4, 1, 200, 0, 36)
            + b.u64(866_700_000)
            + b.u32(100),
        ),
    ]
    frame = b.ethernet(b.ipv4(b"\0" * 8, 17, src="10.9.0.1", dst="10.9.0.2"), 0x0800)
    mpls += [
        b.tlv(1012, b.u32(2, 0x8100_2064, 0x88A8_0007)),
        b.tlv(1013, b.u32(4) + b.header_record(frame)[8:]),  # cipher suite + sampled header
    ]
    samples = [
        b.flow_sample(app, seq=1, source=(3, 2), rate=100),
        b.flow_sample(cache, seq=2, source=(3, 2), rate=10),
        b.flow_sample(http1, seq=3, source=(3, 2), rate=10),
        b.flow_sample(mpls, seq=4, source=(0, 9), rate=1000),
    ]
    # hsflowd relaying JSON as rtmetric (4300:1002) and rtflow (4300:1003): every value type
    metric = (s("app.checkout") + b.u32(7)
              + s("state") + b.u32(0) + s("ready")
              + s("requests") + b.u32(1, 1200)
              + s("bytes") + b.u32(2) + b.u64(2**40)
              + s("queue") + b.u32(3, 17)
              + s("memory") + b.u32(4) + b.u64(2**33)
              + s("load") + b.u32(5) + struct.pack(">f", 0.75)
              + s("latency") + b.u32(6) + struct.pack(">d", 12.5))  # fmt: skip
    flow = (s("app.flows") + b.u32(100, 5000, 8)
            + s("user") + b.u32(0) + s("bob")
            + s("client_mac") + b.u32(1) + b"\x02\x00\x00\x00\x00\x07\0\0"
            + s("client") + b.u32(2) + bytes([198, 51, 100, 7])
            + s("server6") + b.u32(3) + bytes.fromhex("20010db8000000000000000000000001")
            + s("status") + b.u32(4, 200)
            + s("bytes") + b.u32(5) + b.u64(123456789)
            + s("ratio") + b.u32(6) + struct.pack(">f", 0.5)
            + s("duration") + b.u32(7) + struct.pack(">d", 0.125))  # fmt: skip
    rt = [b.tlv(4300 << 12 | 1002, metric), b.tlv(4300 << 12 | 1003, flow)]
    return [
        b.datagram(samples, agent="192.0.2.51", sequence=1, uptime=5_000),
        b.datagram(rt, agent="192.0.2.51", sequence=2, uptime=6_000),
    ]


SYNTHETIC = {
    "hsflowd2-apps": _app_host,
    "hsflowd2-app-flows": _app_flows,
    "switch-asic": _switch_asic,
    "unknowns": _unknowns,
}


def write_bins() -> None:
    for case, sources in COPIED.items():
        d = ROOT / case
        d.mkdir(exist_ok=True)
        for i, src in enumerate(sources):
            shutil.copyfile(SHARED / src, d / f"{i:02d}-{Path(src).name}")
    for case, make in SYNTHETIC.items():
        d = ROOT / case
        d.mkdir(exist_ok=True)
        for i, data in enumerate(make()):
            (d / f"{i:02d}-{case}.bin").write_bytes(data)


def cases() -> list[str]:
    return sorted([*COPIED, *SYNTHETIC])


if __name__ == "__main__":
    write_bins()
