"""Benchmark: decode → line protocol, samples/s on one core, over a mixed corpus.

The corpus is every `.bin` datagram in tests/fixtures/sflow (real switch, pmacct sfprobe and
hsflowd host-counter datagrams), cycled. Each pass runs the collector's own pipeline stage
(decoder + points, including flow aggregation flushed every 10 s of simulated time) into a sink
that only counts lines. Prints one result line.

    python benchmarks/bench_pipeline.py [--seconds 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from collector.sflow.decoder import decode_datagram
from collector.sflow.pipeline import SflowPipeline

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sflow"


class CountingSink:
    def __init__(self) -> None:
        self.lines = 0
        self.bytes = 0

    def write_lines(self, lines: list[str]) -> None:  # type: ignore[override]
        self.lines += len(lines)
        self.bytes += sum(map(len, lines))


def load_corpus() -> list[bytes]:
    corpus = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.bin"))]
    if not corpus:
        raise SystemExit(f"no .bin datagrams under {FIXTURES}")
    return corpus


def run(seconds: float) -> tuple[int, int, float, CountingSink]:
    corpus = load_corpus()
    samples_per_pass = sum(len(decode_datagram(d).samples) for d in corpus)
    sink = CountingSink()
    pipe = SflowPipeline(sink, flow_interval_s=10.0, stats_interval_s=10.0)
    ts = 1_700_000_000_000_000_000
    passes = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for data in corpus:
            pipe.handle(data, "192.0.2.1", ts)
            ts += 1_000_000  # 1 ms of simulated time per datagram
        pipe.tick(ts)
        passes += 1
    pipe.finish(ts)
    elapsed = time.perf_counter() - start
    return passes * samples_per_pass, passes * len(corpus), elapsed, sink


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--profile", action="store_true", help="cProfile the run, top 25 by tottime")
    args = ap.parse_args()
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        samples, datagrams, elapsed, sink = run(args.seconds)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    else:
        samples, datagrams, elapsed, sink = run(args.seconds)
    print(
        f"decode->lp: {samples / elapsed:,.0f} samples/s, {datagrams / elapsed:,.0f} datagrams/s, "
        f"{sink.lines / elapsed:,.0f} lines/s on one core ({elapsed:.1f} s, "
        f"{samples:,} samples)"
    )


if __name__ == "__main__":
    main()
