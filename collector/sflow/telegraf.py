"""Host sFlow blocks → Telegraf's own measurements (``cpu``, ``system``, ``mem``, ``swap``,
``disk``, ``diskio``, ``net``, ``processes``, ``kernel``, ``netstat``), computed the way Telegraf
computes them so that its stock dashboards (grafana.com 928 and descendants) read the same
numbers from hsflowd as from Telegraf on the host.

Sources: Telegraf plugins/inputs/cpu/cpu.go (usage_* from deltas of gopsutil's TimesStat:
``total = user+system+nice+iowait+irq+softirq+steal+idle`` — guest is already inside user and
guest_nice inside nice, so they are subtracted there and left out of the total;
``usage_active = 100·(total−idle)/total``), and the mem/swap/system/processes/kernel/netstat
plugin READMEs. What Host sFlow does not carry is listed in docs/measurements.md.

Stateful only for the CPU deltas (previous counters per agent and source); no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.sflow.lp import Pairs, Prefixes, flt, join, num
from collector.sflow.records import RecordValue

# Host sFlow's swap_in/swap_out are pages (hsflowd: pswpin/pswpout of /proc/vmstat); Telegraf
# (gopsutil) reports bytes with a 4 KiB page. Host sFlow does not send the page size.
PAGE_BYTES = 4096
_WRAP = 1 << 32
_CPU_STATES = (
    "cpu_user", "cpu_nice", "cpu_system", "cpu_idle", "cpu_wio", "cpu_intr", "cpu_sintr",
    "cpu_steal", "cpu_guest", "cpu_guest_nice",
)  # fmt: skip

Fields = Mapping[str, RecordValue]


class TelegrafHost:
    """Writes the Telegraf measurements of one host sample (source 2:N, not a VM)."""

    def __init__(self, prefixes: Prefixes) -> None:
        self._prefix = prefixes.get
        self._cpu_prev: dict[tuple[str, str], tuple[int, ...]] = {}

    def sample(
        self, agent: str, host: str, source: str, blocks: Mapping[int, Fields], recv_ns: int,
        out: list[str],
    ) -> None:  # fmt: skip
        ts = f" {recv_ns}"
        cpu = blocks.get(2003)
        if cpu is not None:
            self._cpu(agent, host, source, cpu, ts, out)
            if 2000 in blocks:
                self._system(agent, host, cpu, recv_ns, ts, out)
        mem = blocks.get(2004)
        if mem is not None:
            self._mem(agent, host, mem, ts, out)
        disk = blocks.get(2005)
        if disk is not None:
            self._disk(agent, host, disk, ts, out)
        nio = blocks.get(2006)
        if nio is not None:
            self._net(agent, host, nio, ts, out)
        tcp = blocks.get(2009)
        if tcp is not None:
            self._netstat(agent, host, tcp, ts, out)

    def _line(self, out: list[str], prefix: str, pairs: Pairs, ts: str) -> None:
        fs = join(pairs)
        if fs:
            out.append(f"{prefix} {fs}{ts}")

    # ------------------------------------------------------------------ cpu (cpu.go)
    def _cpu(self, agent: str, host: str, source: str, f: Fields, ts: str, out: list[str]) -> None:
        """The first sample of a host only primes the deltas; 32-bit ms counters wrap after
        ~49 days (modular deltas); a total beyond 2^31 ms is a reset, not a wrap."""
        now = tuple(num(f, name) or 0 for name in _CPU_STATES)
        key = (agent, source)
        prev = self._cpu_prev.get(key)
        self._cpu_prev[key] = now
        if prev is None:
            return
        user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice = (
            (n - p) % _WRAP for n, p in zip(now, prev, strict=True)
        )
        total = user + system + nice + iowait + irq + softirq + steal + idle
        if total <= 0 or total >= (1 << 31):
            return  # no time passed (Telegraf skips too), or an agent restart
        pct = 100.0 / total
        pairs: Pairs = [
            ("usage_user", (user - guest) * pct),
            ("usage_system", system * pct),
            ("usage_idle", idle * pct),
            ("usage_nice", (nice - guest_nice) * pct),
            ("usage_iowait", iowait * pct),
            ("usage_irq", irq * pct),
            ("usage_softirq", softirq * pct),
            ("usage_steal", steal * pct),
            ("usage_guest", guest * pct),
            ("usage_guest_nice", guest_nice * pct),
            ("usage_active", (total - idle) * pct),
        ]
        prefix = self._prefix("cpu", "agent", agent, "host", host, "cpu", "cpu-total")
        self._line(out, prefix, pairs, ts)

    # ---------------------------------------------------- system, processes, kernel
    def _system(
        self, agent: str, host: str, f: Fields, recv_ns: int, ts: str, out: list[str]
    ) -> None:
        uptime = num(f, "uptime")
        system: Pairs = [
            ("load1", flt(f, "load_one")),
            ("load5", flt(f, "load_five")),
            ("load15", flt(f, "load_fifteen")),
            ("n_cpus", num(f, "cpu_num")),
            ("uptime", uptime),
        ]
        self._line(out, self._prefix("system", "agent", agent, "host", host), system, ts)
        # /proc/loadavg's running and total scheduling entities, as hsflowd reads them
        processes: Pairs = [("running", num(f, "proc_run")), ("total", num(f, "proc_total"))]
        self._line(out, self._prefix("processes", "agent", agent, "host", host), processes, ts)
        kernel: Pairs = [
            ("interrupts", num(f, "interrupts")),
            ("context_switches", num(f, "contexts")),
            # Telegraf reads btime from /proc/stat; Host sFlow sends uptime (s) instead
            ("boot_time", recv_ns // 1_000_000_000 - uptime if uptime is not None else None),
        ]
        self._line(out, self._prefix("kernel", "agent", agent, "host", host), kernel, ts)

    # ------------------------------------------------------------------ mem, swap
    def _mem(self, agent: str, host: str, f: Fields, ts: str, out: list[str]) -> None:
        total = num(f, "mem_total")
        free = num(f, "mem_free")
        buffers = num(f, "mem_buffers") or 0
        cached = num(f, "mem_cached") or 0
        pairs: Pairs = [
            ("total", total),
            ("free", free),
            ("shared", num(f, "mem_shared")),
            ("buffered", buffers),
            ("cached", cached),
            ("swap_total", num(f, "swap_total")),
            ("swap_free", num(f, "swap_free")),
        ]
        if total and free is not None:
            # gopsutil (Telegraf) without MemAvailable: used = total − free − buffers − cached
            used = max(total - free - buffers - cached, 0)
            available = min(free + buffers + cached, total)
            pairs += [
                ("used", used),
                ("available", available),
                ("used_percent", 100.0 * used / total),
                ("available_percent", 100.0 * available / total),
            ]
        self._line(out, self._prefix("mem", "agent", agent, "host", host), pairs, ts)
        swap_total = num(f, "swap_total")
        swap_free = num(f, "swap_free")
        if swap_total is not None and swap_free is not None:
            swap_used = max(swap_total - swap_free, 0)
            swap_in = num(f, "swap_in")
            swap_out = num(f, "swap_out")
            swap: Pairs = [
                ("total", swap_total),
                ("free", swap_free),
                ("used", swap_used),
                ("used_percent", 100.0 * swap_used / swap_total if swap_total else 0.0),
                ("in", swap_in * PAGE_BYTES if swap_in is not None else None),
                ("out", swap_out * PAGE_BYTES if swap_out is not None else None),
            ]
            self._line(out, self._prefix("swap", "agent", agent, "host", host), swap, ts)

    # ------------------------------------------------------------------ disk, net
    def _disk(self, agent: str, host: str, f: Fields, ts: str, out: list[str]) -> None:
        total = num(f, "disk_total")
        free = num(f, "disk_free")
        if total is not None and free is not None:
            used = max(total - free, 0)
            disk: Pairs = [
                ("total", total),
                ("free", free),
                ("used", used),
                ("used_percent", 100.0 * used / total if total else 0.0),
            ]
            prefix = self._prefix(
                "disk", "agent", agent, "host", host, "path", "all", "device", "all",
                "fstype", "all",
            )  # fmt: skip
            self._line(out, prefix, disk, ts)
        diskio: Pairs = [
            ("reads", num(f, "reads")),
            ("writes", num(f, "writes")),
            ("read_bytes", num(f, "bytes_read")),
            ("write_bytes", num(f, "bytes_written")),
            ("read_time", num(f, "read_time")),
            ("write_time", num(f, "write_time")),
        ]
        prefix = self._prefix("diskio", "agent", agent, "host", host, "name", "all")
        self._line(out, prefix, diskio, ts)

    def _net(self, agent: str, host: str, f: Fields, ts: str, out: list[str]) -> None:
        pairs: Pairs = [
            ("bytes_recv", num(f, "bytes_in")),
            ("packets_recv", num(f, "pkts_in")),
            ("err_in", num(f, "errs_in")),
            ("drop_in", num(f, "drops_in")),
            ("bytes_sent", num(f, "bytes_out")),
            ("packets_sent", num(f, "pkts_out")),
            ("err_out", num(f, "errs_out")),
            ("drop_out", num(f, "drops_out")),
        ]
        prefix = self._prefix("net", "agent", agent, "host", host, "interface", "total")
        self._line(out, prefix, pairs, ts)

    def _netstat(self, agent: str, host: str, f: Fields, ts: str, out: list[str]) -> None:
        # tcpCurrEstab (RFC 4022) counts ESTABLISHED and CLOSE-WAIT connections; the other
        # per-state counts of Telegraf's netstat are not in Host sFlow.
        pairs: Pairs = [("tcp_established", num(f, "tcp_curr_estab"))]
        prefix = self._prefix("netstat", "agent", agent, "host", host)
        self._line(out, prefix, pairs, ts)
