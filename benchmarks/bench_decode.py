"""Benchmark: decode_datagram throughput over every .bin test datagram, ~3 s on one core.

Usage: python benchmarks/bench_decode.py [--seconds 3] [--profile]
Prints one line: ``decode: N samples/s (M datagrams/s)``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from collector.sflow.decoder import decode_datagram

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DIRS = (ROOT / "tests" / "fixtures" / "sflow", Path("/work/shared/testdata/sflow"))


def load_corpus() -> list[bytes]:
    """All .bin datagrams of the first fixture directory that has any."""
    for base in FIXTURE_DIRS:
        files = sorted(base.glob("*/*.bin"))
        if files:
            return [f.read_bytes() for f in files]
    raise SystemExit("no .bin fixtures found")


def run(corpus: list[bytes], seconds: float) -> tuple[int, int, float]:
    """Decode the corpus in a loop for ``seconds``; returns (samples, datagrams, elapsed)."""
    samples = datagrams = 0
    per_pass = sum(len(decode_datagram(d).samples) for d in corpus)
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for d in corpus:
            decode_datagram(d)
        samples += per_pass
        datagrams += len(corpus)
    return samples, datagrams, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true", help="print the cProfile top 25")
    args = parser.parse_args()
    corpus = load_corpus()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(corpus, args.seconds)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    samples, datagrams, elapsed = run(corpus, args.seconds)
    print(f"decode: {samples / elapsed:,.0f} samples/s ({datagrams / elapsed:,.0f} datagrams/s)")


if __name__ == "__main__":
    main()
