"""`fabricscope sim ...`: the simulators on their own (stage: CLI).

``sim apic`` runs the simulated fabric behind one or more simulated APICs.  Other simulators
plug in as further ``sim`` children: each module listed in :data:`SIM_PLUGINS` that exists must
expose ``register(sim_subparsers)`` (e.g. ``simulators/sflow_cli.py`` adds ``sim sflow``).

:func:`start_apic_simulation` is the reusable entry point (``fabricscope demo`` can call it).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

SIM_PLUGINS = ("simulators.sflow_cli",)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser("sim", help="run the fabric / APIC / sFlow simulators")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SIMULATOR")

    def usage(_args: argparse.Namespace) -> int:
        sim.print_help()
        return 2

    sim.set_defaults(handler=usage)
    register_apic(sim_sub)
    for name in SIM_PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that simulator is not built yet
            raise
        module.register(sim_sub)


def register_apic(sim_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sim_sub.add_parser(
        "apic",
        help="simulated ACI fabric behind simulated APIC(s)",
        description="Serve the APIC REST + websocket API over plain HTTP.",
    )
    p.add_argument(
        "--listen",
        type=_host_port,
        default=("127.0.0.1", 8443),
        help="HOST:PORT of the first APIC (default 127.0.0.1:8443)",
    )
    p.add_argument(
        "--cluster",
        type=_positive,
        default=1,
        help="number of APICs, on consecutive ports (default 1)",
    )
    p.add_argument("--leafs", type=_positive, default=4)
    p.add_argument("--endpoints", type=int, default=200)
    p.add_argument(
        "--partners",
        type=int,
        default=2,
        help="remote leafs holding an XR entry of each endpoint (default 2; EnhancedEndpoint"
        "Tracker's scale profile: --leafs 400 --endpoints 64500 --partners 31, ~4.18M entries)",
    )
    p.add_argument("--pods", type=_positive, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--scenarios",
        default="all",
        help="comma list of scenarios to repeat, 'all' or 'none' (default all)",
    )
    p.add_argument(
        "--repeat",
        type=float,
        default=60.0,
        help="start the next scenario every N simulated seconds; 0 = never",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    p.add_argument("--username", default=os.environ.get("FABRICSCOPE_APIC_USERNAME", "admin"))
    p.add_argument("--password", default=os.environ.get("FABRICSCOPE_APIC_PASSWORD", "password"))
    p.add_argument(
        "--refresh-timeout",
        type=int,
        default=600,
        help="aaaLogin refreshTimeoutSeconds (default 600)",
    )
    p.add_argument(
        "--sflow",
        type=_host_port,
        metavar="HOST:PORT",
        help="also run the fabric's sFlow agents (Host sFlow hypervisors + a few non-ACI "
        "switches; ACI leafs export NetFlow, not sFlow), sending to this collector; they follow "
        "the same scenarios, and the hypervisors/switches appear as the leafs' LLDP/CDP "
        "neighbours",
    )
    p.add_argument(
        "--sflow-interval",
        type=float,
        default=10.0,
        help="sFlow counter polling interval in simulated seconds (default 10)",
    )
    p.add_argument(
        "--sampling-rate", type=_positive, default=1000, help="sFlow 1-in-N packet sampling"
    )
    p.set_defaults(handler=run_apic)


@dataclass
class ApicSimulation:
    fabric: object
    cluster: object
    urls: list[str]
    sflow_fleet: object | None = None

    def stop(self) -> None:
        from simulators.apic_server import ApicCluster
        from simulators.fabric import SimulatedFabric
        from simulators.sflow_agents import SflowAgentFleet

        assert isinstance(self.cluster, ApicCluster)
        assert isinstance(self.fabric, SimulatedFabric)
        self.fabric.scenarios.stop_repeating()
        if isinstance(self.sflow_fleet, SflowAgentFleet):
            self.sflow_fleet.close()
        self.fabric.clock.stop_ticker()
        self.cluster.stop()


def start_apic_simulation(
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    cluster: int = 1,
    leafs: int = 4,
    endpoints: int = 200,
    partners: int = 2,
    pods: int = 1,
    seed: int = 1,
    scenarios: str = "all",
    repeat: float = 60.0,
    speed: float = 1.0,
    username: str = "admin",
    password: str = "password",
    refresh_timeout: int = 600,
    sflow: tuple[str, int] | None = None,
    sflow_interval: float = 10.0,
    sampling_rate: int = 1000,
) -> ApicSimulation:
    """Build the fabric, start the APIC(s) and the live clock — and, with ``sflow``, the
    fabric's sFlow agents following the same scenarios; returns a handle with ``stop``."""
    from simulators.apic_server import ApicCluster
    from simulators.bridge import BridgeConfig, bridge_fabric
    from simulators.clock import SimClock
    from simulators.fabric import SimulatedFabric
    from simulators.sflow_agents import SflowAgentFleet

    clock = SimClock(start=time.time(), speed=speed)  # live demo: timestamps are "now"
    fab = SimulatedFabric.build(
        leafs=leafs, endpoints=endpoints, seed=seed, pods=pods, clock=clock, partners=partners
    )
    # Millions of long-lived entries: keep them out of the cyclic GC's full passes, which would
    # otherwise walk them all again and again while queries allocate (most of a big build's time).
    gc.collect()
    gc.freeze()
    apics = ApicCluster(
        fab, size=cluster, username=username, password=password, refresh_timeout=refresh_timeout
    )
    apics.start(host, [port + i if port else 0 for i in range(cluster)])
    fleet = None
    if sflow is not None:
        # Bridged before the clock runs: the agents see every scenario step from the first.
        model, _ = bridge_fabric(fab, BridgeConfig(seed=seed))
        fleet = SflowAgentFleet(
            model, sflow, sflow_interval, speed, sampling_rate=sampling_rate, clock=clock.now,
            seed=seed,
        )  # fmt: skip
        log.info(
            "sFlow agents: %d leafs, %d hypervisors, %d VMs → %s:%d (interval %gs)",
            len(model.leafs), len(model.hypervisors), len(model.vms), *sflow, sflow_interval,
        )  # fmt: skip
    clock.start_ticker()
    if fleet is not None:
        fleet.start()
    names = [n.strip() for n in scenarios.split(",") if n.strip()]
    if repeat > 0 and names and names != ["none"]:
        fab.scenarios.schedule_repeating(names, repeat)
    return ApicSimulation(fab, apics, apics.urls, fleet)


def run_apic(args: argparse.Namespace) -> int:
    host, port = args.listen
    sim = start_apic_simulation(
        host=host,
        port=port,
        cluster=args.cluster,
        leafs=args.leafs,
        endpoints=args.endpoints,
        partners=args.partners,
        pods=args.pods,
        seed=args.seed,
        scenarios=args.scenarios,
        repeat=args.repeat,
        speed=args.speed,
        username=args.username,
        password=args.password,
        refresh_timeout=args.refresh_timeout,
        sflow=args.sflow,
        sflow_interval=args.sflow_interval,
        sampling_rate=args.sampling_rate,
    )
    counts = sim.fabric.counts()  # type: ignore[attr-defined]
    log.info("fabric: %s", counts)
    for url in sim.urls:
        log.info("simulated APIC at %s (side API: %s/_sim/status)", url, url)
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
