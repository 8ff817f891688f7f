"""Build a simulated fabric at scale and page through epmMacEp like EPT does; one result line.

Usage: python benchmarks/bench_sim_build.py [--leafs 50] [--endpoints 100000]
"""

from __future__ import annotations

import argparse
import resource
import time

from simulators.apic_query import QueryEngine
from simulators.fabric import SimulatedFabric


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leafs", type=int, default=50)
    ap.add_argument("--endpoints", type=int, default=100_000)
    ap.add_argument("--page-size", type=int, default=75_000)
    args = ap.parse_args()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    fab = SimulatedFabric.build(leafs=args.leafs, endpoints=args.endpoints, seed=1)
    build_s = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    eng = QueryEngine(fab)
    t1 = time.perf_counter()
    got = page = 0
    while True:
        spec = eng.parse(
            "class",
            "epmMacEp",
            {"order-by": "epmMacEp.addr", "page-size": str(args.page_size), "page": str(page)},
        )
        res = eng.run(spec)
        got += len(res.imdata)
        page += 1
        if len(res.imdata) < args.page_size or got >= res.total:
            break
    query_s = time.perf_counter() - t1
    counts = fab.counts()
    print(
        f"sim_build leafs={args.leafs} endpoints={args.endpoints} build_s={build_s:.2f} "
        f"model_rss_mib={(rss1 - rss0) / 1024:.0f} epmMacEp={counts['epmMacEp']} "
        f"epmIpEp={counts['epmIpEp']} paged_epmMacEp_s={query_s:.2f} pages={page} "
        f"peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
    )


if __name__ == "__main__":
    main()
