"""The realistic mixed sFlow corpus the sFlow benchmarks share, and a pcap writer for it.

Mix: flow datagrams (pmacct sfprobe and a real switch capture, 6–9 flow samples each) repeated so
that counter samples are about 3 % of all samples, as on a fabric where switches sample packets
and poll counters every 20–30 s; plus every counter datagram of the fixtures once (real hsflowd
host counters, switch port counters, an OVS host) and the drop and encoded hsflowd-2.x cases.
Each copy of a flow datagram gets its own agent address (10.x.y.z) and the datagram sequence is
renumbered per agent, so the collector sees many agents with no loss.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

from collector.sflow.decoder import decode_datagram
from collector.sflow.records import CounterSample, FlowSample

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sflow"
COUNTER_SHARE = 0.03


def _fixture_datagrams() -> list[tuple[bytes, bool]]:
    """(datagram, captured): captures (public/, generated/) may be copied as traffic; the
    encoded golden cases (one of each structure) are sent once."""
    seen: set[bytes] = set()
    out = []
    for path in sorted(FIXTURES.rglob("*.bin")):
        data = path.read_bytes()
        if data not in seen:  # the golden cases copy some datagrams
            seen.add(data)
            out.append((data, path.parent.name in ("public", "generated")))
    return out


def _with_agent(data: bytes, agent: str, seq: int) -> bytes:
    """The same IPv4-agent datagram from another agent, with its own sequence number."""
    return data[:8] + socket.inet_aton(agent) + data[12:16] + struct.pack("!I", seq) + data[20:]


def build(agents: int = 16) -> list[bytes]:
    flows: list[bytes] = []
    others: list[bytes] = []
    n_flow = n_counter = 0
    for data, captured in _fixture_datagrams():
        dg = decode_datagram(data)
        kinds = {type(s) for s in dg.samples}
        if captured and kinds == {FlowSample} and dg.agent_address_type == 1:
            flows.append(data)
            n_flow += len(dg.samples)
        else:
            others.append(data)
            n_counter += sum(type(s) is CounterSample for s in dg.samples)
    # copies of the flow datagrams so that counters are COUNTER_SHARE of the samples
    copies = max(1, round(n_counter * (1 - COUNTER_SHARE) / COUNTER_SHARE / max(n_flow, 1)))
    corpus = list(others)
    seq: dict[str, int] = {}
    for c in range(copies):
        for i, data in enumerate(flows):
            k = (c * len(flows) + i) % agents
            agent = f"10.0.{k // 250}.{k % 250 + 1}"
            seq[agent] = seq.get(agent, 0) + 1
            corpus.append(_with_agent(data, agent, seq[agent]))
    # interleave the counter datagrams among the flows, as they arrive in practice
    step = max(1, len(corpus) // max(len(others), 1))
    mixed = corpus[len(others) :]
    for j, data in enumerate(others):
        mixed.insert(min(len(mixed), j * step), data)
    return mixed


def describe(corpus: list[bytes]) -> str:
    samples = counters = 0
    for data in corpus:
        dg = decode_datagram(data)
        samples += len(dg.samples)
        counters += sum(type(s) is CounterSample for s in dg.samples)
    return (
        f"{len(corpus)} datagrams, {samples} samples ({samples / len(corpus):.2f}/datagram, "
        f"{100 * counters / samples:.1f} % counter samples)"
    )


def samples_in(corpus: list[bytes]) -> int:
    return sum(len(decode_datagram(d).samples) for d in corpus)


def write_pcap(path: Path, corpus: list[bytes], repeat: int, port: int = 6343) -> int:
    """Classic pcap (Ethernet/IPv4/UDP to ``port``) of the corpus ``repeat`` times; returns the
    datagram count. Sequence numbers continue across repeats so no reader sees a reset."""
    count = 0
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for r in range(repeat):
            for i, data in enumerate(corpus):
                if len(data) > 20 and data[4:8] == b"\0\0\0\1":
                    seq = struct.unpack_from("!I", data, 16)[0] + r * len(corpus)
                    data = data[:16] + struct.pack("!I", seq & 0xFFFFFFFF) + data[20:]
                udp = struct.pack("!HHHH", 40000 + i % 1000, port, 8 + len(data), 0) + data
                ip = struct.pack(
                    "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                    socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"),
                )  # fmt: skip
                frame = b"\0\0\0\0\0\2" + b"\0\0\0\0\0\1" + b"\x08\x00" + ip + udp
                t = 1_700_000_000 + count // 1000
                fh.write(struct.pack("<IIII", t, (count % 1000) * 1000, len(frame), len(frame)))
                fh.write(frame)
                count += 1
    return count


def send(port: int, rate: int, seconds: float, corpus: list[bytes], sources: int = 16
         ) -> tuple[int, float]:  # fmt: skip
    """Offer ``rate`` datagrams/s for ``seconds`` to 127.0.0.1:``port`` from ``sources`` source
    addresses (127.0.0.2 …, so SO_REUSEPORT and per-source hashing see many senders), cycling
    through the corpus; paced in 5 ms slices. Returns (datagrams sent, achieved rate)."""
    socks = []
    for i in range(sources):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.bind((f"127.0.0.{2 + i}", 0))
        socks.append(s.sendto)
    dest = ("127.0.0.1", port)
    n = len(corpus)
    sent = 0
    start = time.perf_counter()
    try:
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
            due = int(rate * min(elapsed + 0.005, seconds))
            while sent < due:
                socks[sent % sources](corpus[sent % n], dest)
                sent += 1
            time.sleep(0.001)
    finally:
        for fn in socks:
            fn.__self__.close()  # type: ignore[attr-defined]
    return sent, sent / (time.perf_counter() - start)
