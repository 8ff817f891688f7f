"""fabricscope's sFlow decode → line protocol next to the reference decoder ``sflowtool -l``.

Both read the same realistic mixed corpus (benchmarks/sflow_corpus.py) in one run and the
script prints both rates side by side with their ratio:

- offline: a pcap of the corpus; fabricscope runs its collector pipeline (the code behind
  `sflow listen`, here into a sink that only counts lines), sflowtool runs ``-r FILE -l`` into
  /dev/null. Rates are samples per CPU second (user + system) of the decoding process, so
  other load on the machine does not count against either; wall-clock rates are printed too.
- udp (``--udp``): each receiver listens on loopback (fabricscope ``sflow listen --stdout``,
  sflowtool ``-p PORT -l``, both into /dev/null) while benchmarks.sflow_corpus.send() offers
  rising datagram rates from many source addresses; a rate counts as zero-loss when the
  receiver socket's kernel drop counter (/proc/net/udp) stays 0 and every datagram arrived.
  sflowtool keeps the kernel's default receive buffer (net.core.rmem_default) while
  fabricscope asks for 8 MB (capped at net.core.rmem_max); ``--rcvbuf BYTES`` gives
  fabricscope's receiver that buffer instead, e.g. the kernel default, for an equal footing.

sflowtool is never committed: give a binary with ``$SFLOWTOOL``/``--sflowtool``, or a source
checkout (github sflow/sflowtool) with ``--build-sflowtool DIR`` to compile it into a temporary
folder with cc. Without one, only fabricscope's figures are printed.

    python3 -m benchmarks.bench_vs_sflowtool [--seconds 5] [--udp] [--build-sflowtool DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import sflow_corpus
from collector.sflow.pcap import read_datagrams
from collector.sflow.pipeline import SflowPipeline
from fabricscope.influxdb_local import free_port

_CONFIG_H = '#define VERSION "bench"\n#define PACKAGE "sflowtool"\n'


class CountingSink:
    def __init__(self) -> None:
        self.lines = 0

    def write_lines(self, lines: Sequence[str]) -> None:
        self.lines += len(lines)


# ------------------------------------------------------------------------- sflowtool
def build_sflowtool(src: Path, tmp: Path) -> Path:
    """Compile sflowtool from a source checkout into ``tmp`` (never into the repository)."""
    src_dir = src / "src" if (src / "src" / "sflowtool.c").exists() else src
    work = tmp / "sflowtool-build"
    shutil.copytree(src_dir, work)
    (work / "config.h").write_text(_CONFIG_H)
    binary = tmp / "sflowtool"
    sources = [str(p) for p in sorted(work.glob("*.c")) if p.name in ("sflowtool.c", "util.c")]
    cmd = ["cc", "-O2", "-I", str(work), "-o", str(binary), *sources, "-lm"]
    subprocess.run(cmd, check=True)
    return binary


def find_sflowtool(args: argparse.Namespace, tmp: Path) -> Path | None:
    given = args.sflowtool or os.environ.get("SFLOWTOOL")
    if given:
        return Path(given)
    if args.build_sflowtool:
        return build_sflowtool(Path(args.build_sflowtool), tmp)
    found = shutil.which("sflowtool")
    return Path(found) if found else None


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def sflowtool_offline(binary: Path, pcap: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``sflowtool -r pcap -l > /dev/null``."""
    cpu0, t0 = _child_cpu(), time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run([str(binary), "-r", str(pcap), "-l"], stdout=null, stderr=null, check=False)
    return _child_cpu() - cpu0, time.perf_counter() - t0


# ------------------------------------------------------------------------- fabricscope
def fabricscope_offline(pcap: Path, native: bool, fast: bool = True) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, lines) of the collector pipeline over the pcap."""
    packets = list(read_datagrams(str(pcap)))  # reading the file is not decoding: done first
    sink = CountingSink()
    pipe = SflowPipeline(sink, flow_interval_s=10.0, stats_interval_s=1e9, native=native, fast=fast)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for ts_ns, source, payload in packets:
        pipe.handle(payload, source, ts_ns)
        if sink.lines & 0x3FF == 0:
            pipe.tick(ts_ns)
    pipe.finish(packets[-1][0])
    return time.process_time() - cpu0, time.perf_counter() - t0, sink.lines


# ------------------------------------------------------------------------- udp
def _receiver(
    kind: str, binary: Path | None, port: int, rcvbuf: int | None = None
) -> subprocess.Popen[bytes]:
    null = open(os.devnull, "wb")  # noqa: SIM115 - owned by the child for its lifetime
    env = dict(os.environ)
    if rcvbuf is not None:
        env["FABRICSCOPE_SFLOW_RCVBUF_BYTES"] = str(rcvbuf)
    if kind == "sflowtool":
        assert binary is not None
        cmd = [str(binary), "-4", "-p", str(port), "-l"]
    else:
        cmd = [sys.executable, "-m", "fabricscope.cli", "sflow", "listen", "--stdout",
               "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=null, stderr=subprocess.DEVNULL, env=env)


def _port_socket(port: int) -> tuple[int, int] | None:
    """(kernel drops, bytes still queued) of the UDP socket bound to ``port`` (/proc/net/udp)."""
    hexport = f"{port:04X}"
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as fh:
                next(fh, None)
                for line in fh:
                    cols = line.split()
                    if len(cols) >= 13 and cols[1].endswith(":" + hexport):
                        return int(cols[12]), int(cols[4].split(":")[1], 16)
        except OSError:
            continue
    return None


def _port_drops(port: int) -> int | None:
    state = _port_socket(port)
    return None if state is None else state[0]


def _drained(port: int, timeout: float = 5.0) -> bool:
    """Wait until the receiver has read everything queued on its socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _port_socket(port)
        if state is None or state[1] == 0:
            return True
        time.sleep(0.05)
    return False


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _wait_bound(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while _port_drops(port) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"receiver on port {port} did not start")
        time.sleep(0.1)


def udp_zero_loss(kind: str, binary: Path | None, corpus: list[bytes], rates: list[int],
                  seconds: float, sources: int, rcvbuf: int | None = None) -> int:  # fmt: skip
    """Highest offered datagram rate with no kernel drop at the receiver."""
    best = 0
    for rate in rates:
        port = free_port()
        proc = _receiver(kind, binary, port, rcvbuf)
        try:
            _wait_bound(port, proc)
            time.sleep(0.5)
            cpu0 = _proc_cpu(proc.pid)
            sent, achieved = sflow_corpus.send(port, rate, seconds, corpus, sources)
            drained = _drained(port)  # a receiver that cannot keep up leaves a backlog
            cpu = _proc_cpu(proc.pid) - cpu0
            drops = _port_drops(port) or 0
        finally:
            proc.terminate()
            proc.wait(30)
        ok = drops == 0 and drained and achieved >= 0.95 * rate
        print(
            f"  udp {kind:<11} offered {rate:>7,} dg/s (sent {achieved:>9,.0f} dg/s from "
            f"{sources} sources): receiver CPU {cpu / sent * 1e6:,.1f} µs/datagram "
            f"({100 * cpu / seconds:.0f} % of a core), kernel drops {drops:,}, backlog drained "
            f"{drained} -> {'ok' if ok else 'LOSS'}",
            flush=True,
        )
        if not ok:
            break
        best = rate
    return best


# ------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=400, help="corpus copies in the pcap")
    ap.add_argument("--sflowtool", help="sflowtool binary (else $SFLOWTOOL, PATH)")
    ap.add_argument("--build-sflowtool", metavar="DIR", help="sflowtool source checkout to build")
    ap.add_argument("--udp", action="store_true", help="also measure the UDP zero-loss rate")
    ap.add_argument("--rates", default="5000,10000,15000,20000,25000,30000,40000")
    ap.add_argument("--seconds", type=float, default=5.0, help="per UDP rate step")
    ap.add_argument("--sources", type=int, default=16, help="UDP sender addresses")
    ap.add_argument("--rcvbuf", type=int,
                    help="SO_RCVBUF for fabricscope's UDP receiver (default: its own 8 MB; "
                    "sflowtool always has net.core.rmem_default)")  # fmt: skip
    args = ap.parse_args()

    corpus = sflow_corpus.build()
    samples_per_pass = sflow_corpus.samples_in(corpus)
    load = os.getloadavg()
    print(f"corpus: {sflow_corpus.describe(corpus)}; machine load {load[0]:.2f} "
          f"(1 min), {os.cpu_count()} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fabricscope-vs-sflowtool-") as tmpdir:
        tmp = Path(tmpdir)
        binary = find_sflowtool(args, tmp)
        pcap = tmp / "corpus.pcap"
        n_dg = sflow_corpus.write_pcap(pcap, corpus, args.repeat)
        samples = samples_per_pass * args.repeat
        print(f"offline: {n_dg:,} datagrams, {samples:,} samples in {pcap.name}")
        rows = []
        from collector.sflow.fastpath import native

        modes = [("fabricscope (native)", True, True)] if native is not None else []
        modes.append(("fabricscope (pure Python)", False, True))
        # the full decoder for every datagram: the collector's path before the fast paths
        modes.append(("fabricscope (full decoder)", False, False))
        for name, use_native, fast in modes:
            cpu, wall, lines = fabricscope_offline(pcap, use_native, fast)
            rows.append((name, samples / cpu, samples / wall))
            print(f"  {name:<26} {samples / cpu:>10,.0f} samples/CPU-s "
                  f"{samples / wall:>10,.0f} samples/s wall  ({lines:,} lines)")  # fmt: skip
        if binary is not None:
            cpu, wall = sflowtool_offline(binary, pcap)
            rows.append(("sflowtool -l", samples / cpu, samples / wall))
            print(f"  {'sflowtool -l':<26} {samples / cpu:>10,.0f} samples/CPU-s "
                  f"{samples / wall:>10,.0f} samples/s wall")  # fmt: skip
            ref = rows[-1][1]
            for name, rate, _ in rows[:-1]:
                print(f"  ratio {name} / sflowtool -l = {rate / ref:.2f}")
        else:
            print("  sflowtool: not available (set $SFLOWTOOL or --build-sflowtool DIR): no ratio")

        if args.udp:
            rates = [int(r) for r in args.rates.split(",")]
            try:
                rmem_default = Path("/proc/sys/net/core/rmem_default").read_text().strip()
            except OSError:
                rmem_default = "?"
            fs_buf = f"{args.rcvbuf:,}" if args.rcvbuf else "8 MB asked"
            print(f"udp receive buffers: fabricscope {fs_buf}, sflowtool kernel default "
                  f"{rmem_default} bytes")  # fmt: skip
            fs = udp_zero_loss("fabricscope", None, corpus, rates, args.seconds, args.sources,
                               args.rcvbuf)  # fmt: skip
            print(f"udp zero-loss: fabricscope {fs:,} datagrams/s "
                  f"({fs * samples_per_pass / len(corpus):,.0f} samples/s)")  # fmt: skip
            if binary is not None:
                st = udp_zero_loss("sflowtool", binary, corpus, rates, args.seconds, args.sources)
                print(f"udp zero-loss: sflowtool -l {st:,} datagrams/s; "
                      f"ratio {fs / st if st else float('nan'):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
