"""Move-cause accuracy against the simulator's ground truth (stage: benchmarks).

Runs the real stack in real time — the fabric + APIC + sFlow simulators in this process
(``start_apic_simulation(sflow=…)``: one world, two views), the collector and the APIC poller as
``fabricscope`` child processes writing to a real InfluxDB — while the fabric's scenarios repeat.
Then the real move-cause analyzer runs over the whole period, and each move the scenario engine
recorded (ground truth, with its true cause) is matched to the `move_analysis` finding of the same
address and time. Prints the confusion table (cause true × cause found) as Markdown.

Columns beyond the five causes: ``no move`` — the poller never reported that move; ``no finding``
— the move was stored but has no finding. Row ``(no truth)`` counts findings for moves no
scenario made.

Usage: python benchmarks/confusion_moves.py [--duration 600] [--repeat 30]
           [--scenarios vm_migration,link_failover,nic_teaming_flap,l2_loop,stale_remote]
           [--influx-url URL] [--out FILE]

``--scenarios concurrent`` plays the concurrent scenarios (:data:`CONCURRENT_SCENARIOS`): a loop
in one BD while a port-channel of another BD fails over, and a VM migration during a broadcast
storm in another BD — evidence that is real but not on a move's path must not decide its cause.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzers.causes import CAUSE_NAMES as CAUSES  # noqa: E402
from analyzers.move_cause import MoveCauseAnalyzer, MoveCauseConfig  # noqa: E402
from fabricscope.commands.sim import ApicSimulation, start_apic_simulation  # noqa: E402
from fabricscope.influxdb_local import LocalInfluxDB, ensure_influxd, free_port  # noqa: E402
from influx import reads  # noqa: E402
from influx.admin import ensure_bucket  # noqa: E402
from influx.query import InfluxQuery  # noqa: E402
from influx.sink import ListSink  # noqa: E402
from simulators.fabric import SimulatedFabric, TruthRecord  # noqa: E402

NS = 1_000_000_000
MOVE_SCENARIOS = "vm_migration,link_failover,nic_teaming_flap,l2_loop,stale_remote"
CONCURRENT_SCENARIOS = "concurrent_loop_pc_failover,concurrent_migration_storm"
# The cause each scenario's moves truly have (stale_remote's move is a VM migration: the
# stale XR entry it leaves behind is the anomaly, not the cause of the move).
TRUE_CAUSE = {
    "vm_migration": "vm_migration",
    "stale_remote": "vm_migration",
    "link_failover": "link_failover",
    "nic_teaming": "nic_teaming_flap",
    "l2_loop": "loop",
}
MATCH_S = 2.0  # a finding belongs to a true move of the same address within this many seconds
MISSED, NO_FINDING, NO_TRUTH = "no move", "no finding", "(no truth)"


@dataclass(frozen=True)
class TrueMove:
    addr: str
    time: float
    cause: str
    scenario: str
    run: int = 0

    @property
    def incident(self) -> tuple[int, str]:
        """One true incident = one scenario run's moves of one cause (a concurrent run makes
        two: its loop and its port-channel failover)."""
        return (self.run, self.cause)


def true_moves(fab: SimulatedFabric) -> list[TrueMove]:
    """Every MAC move a scenario made, and the same move of each of the endpoint's IPs."""
    out: list[TrueMove] = []
    with fab.lock:
        truth: list[TruthRecord] = [r for r in fab.truth if r.kind == "move"]
        for r in truth:
            cause = TRUE_CAUSE.get(r.cause)
            if cause is None or r.addr_type != "mac":
                continue
            out.append(TrueMove(r.addr, r.time, cause, r.scenario, r.run))
            try:
                ips = fab.endpoint(r.addr).ips
            except KeyError:
                ips = ()
            out.extend(TrueMove(ip, r.time, cause, r.scenario, r.run) for ip in ips)
    return out


def confusion(
    truth: list[TrueMove],
    moves: list[reads.Move],
    findings: list[reads.MoveFinding],
    matched: list[tuple[TrueMove, reads.MoveFinding]] | None = None,
) -> Counter[tuple[str, str]]:
    """(true cause, found cause) → count; `matched` receives each true move's finding."""
    by_addr: dict[str, list[reads.MoveFinding]] = {}
    for f in findings:
        by_addr.setdefault(f.addr.upper(), []).append(f)
    moved: dict[str, list[int]] = {}
    for m in moves:
        moved.setdefault(m.addr.upper(), []).append(m.time_ns)
    used: set[int] = set()
    table: Counter[tuple[str, str]] = Counter()
    # In time order, each true move takes the earliest unused finding of its address within
    # MATCH_S (not the nearest): a loop moves one MAC every few seconds, and nearest-first let
    # one move take its neighbour's finding when the stored times jittered under load, leaving
    # a "no finding" and a "(no truth)" for one right answer.
    for t in sorted(truth, key=lambda t: t.time):
        key = t.addr.upper()
        t_ns = int(t.time * NS)
        near = [
            f
            for f in by_addr.get(key, [])
            if abs(f.time_ns - t_ns) <= MATCH_S * NS and id(f) not in used
        ]
        if near:
            best = min(near, key=lambda f: f.time_ns)
            used.add(id(best))
            table[(t.cause, best.cause)] += 1
            if matched is not None:
                matched.append((t, best))
        elif any(abs(x - t_ns) <= MATCH_S * NS for x in moved.get(key, [])):
            table[(t.cause, NO_FINDING)] += 1
        else:
            table[(t.cause, MISSED)] += 1
    for f in findings:
        if id(f) not in used:
            table[(NO_TRUTH, f.cause)] += 1
    return table


INCIDENT_COLS = ("true incidents", "found", "merged", "split", "missed", "right cause")


def incident_confusion(
    truth: list[TrueMove],
    matched: list[tuple[TrueMove, reads.MoveFinding]],
    kinds: dict[str, str],
) -> dict[str, Counter[str]]:
    """Per true cause: how its true incidents came out.

    - `found`: all its moves are in one found incident that holds no other true incident;
    - `merged`: that one found incident also holds another true incident's moves;
    - `split`: its moves are in several found incidents;
    - `missed`: none of its moves has a finding;
    - `right cause`: found (one-to-one) with the true cause as the incident's kind.
    """
    ids_of: dict[tuple[int, str], set[str]] = {}
    true_of: dict[str, set[tuple[int, str]]] = {}
    for t, f in matched:
        ids_of.setdefault(t.incident, set()).add(f.incident_id)
        true_of.setdefault(f.incident_id, set()).add(t.incident)
    out: dict[str, Counter[str]] = {}
    for inc in sorted({t.incident for t in truth}):
        row = out.setdefault(inc[1], Counter())
        row["true incidents"] += 1
        ids = ids_of.get(inc, set())
        if not ids:
            row["missed"] += 1
        elif len(ids) > 1:
            row["split"] += 1
        elif len(true_of[next(iter(ids))]) > 1:
            row["merged"] += 1
        else:
            row["found"] += 1
            if kinds.get(next(iter(ids))) == inc[1]:
                row["right cause"] += 1
    return out


def render_incidents(rows: dict[str, Counter[str]], spurious: int) -> str:
    lines = [
        "| true cause | " + " | ".join(INCIDENT_COLS) + " |",
        "|---" * (len(INCIDENT_COLS) + 1) + "|",
    ]
    for cause in sorted(rows):
        lines.append(
            f"| {cause} | " + " | ".join(str(rows[cause][c]) for c in INCIDENT_COLS) + " |"
        )
    lines.append(f"\nfound incidents with no true move: {spurious}")
    return "\n".join(lines)


def render(table: Counter[tuple[str, str]]) -> str:
    cols = [*CAUSES, NO_FINDING, MISSED]
    rows = [c for c in CAUSES if c != "unknown"] + [NO_TRUTH]
    lines = [
        "| true \\ found | " + " | ".join(cols) + " | total | right |",
        "|---" * (len(cols) + 3) + "|",
    ]
    for r in rows:
        counts = [table.get((r, c), 0) for c in cols]
        total = sum(counts)
        if not total:
            continue
        right = f"{100 * table.get((r, r), 0) / total:.0f}%" if r != NO_TRUTH else ""
        lines.append(f"| {r} | " + " | ".join(map(str, counts)) + f" | {total} | {right} |")
    return "\n".join(lines)


@contextmanager
def child(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # flush or spool before exiting
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)


def run(
    *,
    influx_url: str,
    database: str,
    duration_s: float,
    repeat_s: float,
    scenarios: str,
    workdir: Path,
    log: Callable[[str], object] = print,
) -> tuple[Counter[tuple[str, str]], dict[str, int], dict[str, Counter[str]]]:
    """Run the stack for ``duration_s``; return the per-move confusion table, some counts
    (`spurious_incidents` among them) and the per-incident table (`incident_confusion`)."""
    ensure_bucket(influx_url, "", "", database)
    env = dict(
        os.environ,
        FABRICSCOPE_INFLUX_URL=influx_url,
        FABRICSCOPE_INFLUX_BUCKET=database,
        FABRICSCOPE_SPOOL_DIR=str(workdir / "spool"),
        FABRICSCOPE_SFLOW_ALLOW="",
        FABRICSCOPE_APIC_PASSWORD="bench",
    )
    cli = [sys.executable, "-m", "fabricscope.cli"]
    sflow_port, apic_port = free_port(), free_port()
    with child(
        [*cli, "sflow", "listen", "--listen", f"127.0.0.1:{sflow_port}"],
        env,
        workdir / "collector.log",
    ) as collector:
        wait_for(
            lambda: "listening udp" in (workdir / "collector.log").read_text(errors="replace"),
            60,
            "collector did not start",
        )
        sim: ApicSimulation = start_apic_simulation(
            port=apic_port,
            leafs=4,
            endpoints=200,
            scenarios="none",  # started below, once the poller has built its tables
            repeat=0,
            password="bench",
            sflow=("127.0.0.1", sflow_port),
        )
        fab = sim.fabric
        assert isinstance(fab, SimulatedFabric)
        try:
            apic_url = sim.urls[0]
            with child(
                [*cli, "apic", "poll", "--apic-urls", apic_url, "--username", "admin"],
                env,
                workdir / "poller.log",
            ) as poller:
                wait_for(
                    lambda: "streaming" in (workdir / "poller.log").read_text(errors="replace"),
                    120,
                    "poller did not build",
                )
                # Two counter intervals of baseline before the first scenario.
                time.sleep(25)
                t_start = fab.clock.now()
                if scenarios == "concurrent":
                    scenarios = CONCURRENT_SCENARIOS
                names = [n.strip() for n in scenarios.split(",") if n.strip()]
                fab.scenarios.schedule_repeating(names, repeat_s)
                log(f"scenarios {names} every {repeat_s:.0f}s for {duration_s:.0f}s …")
                time.sleep(duration_s)
                fab.scenarios.stop_repeating()
                # stale_remote runs on for the 630 s bounce age, but its move is at the start.
                last_end = max(
                    (min(r.ends_at, r.started + 60) for r in fab.scenarios.runs),
                    default=fab.clock.now(),
                )
                # Evidence after the last move (hypervisor samples, interface polls) must land.
                tail = max(0.0, last_end - fab.clock.now()) + 45.0
                log(f"last scenario ends in {tail - 45:.0f}s; waiting {tail:.0f}s for evidence")
                time.sleep(tail)
                t_end = fab.clock.now()
                assert poller.poll() is None, "poller exited"
                assert collector.poll() is None, "collector exited"
        finally:
            sim.stop()
    time.sleep(2)
    q = InfluxQuery(influx_url, database=database)
    since_ns, until_ns = int((t_start - 5) * NS), int(t_end * NS)
    cfg = MoveCauseConfig(reanalyse_window_s=(until_ns - since_ns) / NS + 1)
    sink = ListSink()
    analyzer = MoveCauseAnalyzer(q, sink, cfg)
    findings_by_key = {(f.move.addr, f.move.time_ns): f for f in analyzer.run_once(until_ns)}
    findings = [
        reads.MoveFinding(
            f.move.time_ns, f.move.fabric, f.move.addr, f.cause, f.confidence, f.evidence,
            f.move.from_node, f.move.from_interface, f.move.to_node, f.move.to_interface,
            f.incident_id, f.places, f.topology,
        )
        for f in findings_by_key.values()
    ]  # fmt: skip
    kinds = {i.id: i.kind for i in analyzer.last_incidents}
    mv = reads.moves(q, cfg.fabric, since_ns, until_ns, limit=100_000)
    truth = [t for t in true_moves(fab) if t.time >= t_start]
    matched: list[tuple[TrueMove, reads.MoveFinding]] = []
    table = confusion(truth, mv, findings, matched)
    with_truth = {f.incident_id for _, f in matched}
    counts = {
        "true_moves": len(truth),
        "stored_moves": len(mv),
        "findings": len(findings),
        "scenario_runs": len([r for r in fab.scenarios.runs if r.started >= t_start]),
        "incidents": len(kinds),
        "spurious_incidents": len(set(kinds) - with_truth),
    }
    return table, counts, incident_confusion(truth, matched, kinds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of scenarios")
    ap.add_argument("--repeat", type=float, default=30.0, help="a scenario every N seconds")
    ap.add_argument("--scenarios", default=MOVE_SCENARIOS)
    ap.add_argument("--influx-url", default=None, help="default: a managed local InfluxDB")
    ap.add_argument("--out", default=None, help="also write the table to this file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fabricscope-confusion-") as tmp:
        work = Path(tmp)
        local = None
        url = args.influx_url
        if url is None:
            local = LocalInfluxDB(work / "influxdb", free_port(), binary=ensure_influxd())
            url = local.start()
        try:
            t0 = time.perf_counter()
            table, counts, incidents = run(
                influx_url=url,
                database=f"confusion_{int(time.time())}",
                duration_s=args.duration,
                repeat_s=args.repeat,
                scenarios=args.scenarios,
                workdir=work,
                log=lambda s: print(s, file=sys.stderr),
            )
            wall = time.perf_counter() - t0
        finally:
            if local is not None:
                local.stop()
    text = render(table)
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"confusion_moves {summary} wall_s={wall:.0f}")
    print(text)
    print()
    inc_text = render_incidents(incidents, counts["spurious_incidents"])
    print(inc_text)
    if args.out:
        Path(args.out).write_text(text + "\n\n" + inc_text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
