"""`fabricscope sim sflow` (stage: simulators — CLI front of the sFlow agent fleet).

The ``sim`` group is created in ``fabricscope/commands/sim.py``; it calls :func:`register` with
its sub-parsers. Runs a :func:`~simulators.sflow_agents.build_model` fabric's agents until
Ctrl-C, optionally replaying one scenario (every ``--repeat`` simulated seconds).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


def register(sim_subparsers: Any) -> None:
    from simulators.sflow_agents import SCENARIOS

    p = sim_subparsers.add_parser(
        "sflow",
        help="simulated sFlow agents (hypervisors speaking Host sFlow, leaf switches)",
        description="Emit sFlow v5 from simulated hsflowd hypervisors and EOS-like leafs.",
    )
    p.add_argument("--collector", default="127.0.0.1:6343", help="host:port of the collector")
    p.add_argument("--hypervisors", type=int, default=4)
    p.add_argument("--vms", type=int, default=8)
    p.add_argument("--leafs", type=int, default=2)
    p.add_argument("--interval", type=float, default=5.0, help="counter polling interval (s)")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--sampling-rate", type=int, default=1000, help="1-in-N packet sampling")
    p.add_argument("--scenario", choices=sorted(SCENARIOS), help="scenario to play")
    p.add_argument("--repeat", type=float, help="replay the scenario every N simulated seconds")
    p.add_argument("--ipv6-agents", action="store_true", help="hypervisor agents on 2001:db8::x")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, help="stop after N wall seconds (default: Ctrl-C)")
    p.set_defaults(handler=cmd_sim_sflow)


def cmd_sim_sflow(args: argparse.Namespace) -> int:
    from simulators.sflow_agents import (
        SflowAgentFleet,
        build_model,
        parse_hostport,
        schedule_scenario,
    )

    collector = parse_hostport(args.collector)
    model = build_model(
        args.hypervisors, args.vms, args.leafs, seed=args.seed, start=time.time(),
        ipv6_agents=args.ipv6_agents,
    )  # fmt: skip
    model.add_listener(lambda ev: log.info("%s %s", ev.kind, ev.data))
    if args.scenario:
        # A short warm-up first so the collector has a baseline before anything changes.
        schedule_scenario(
            model, args.scenario, at=model.now + 2 * args.interval, repeat_s=args.repeat,
            seed=args.seed,
        )  # fmt: skip
    fleet = SflowAgentFleet(
        model, collector, args.interval, args.speed, sampling_rate=args.sampling_rate,
        seed=args.seed,
    )  # fmt: skip
    stop = threading.Event()
    main_thread = threading.current_thread() is threading.main_thread()
    # SIGTERM (systemd, docker stop) ends the run like Ctrl-C; only possible in the main thread.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if main_thread else None
    fleet.start()
    log.info(
        "sFlow agents: %d leafs, %d hypervisors, %d VMs → %s:%d (interval %gs, speed %gx)",
        len(model.leafs), len(model.hypervisors), len(model.vms), *collector, args.interval,
        args.speed,
    )  # fmt: skip
    started = time.monotonic()
    try:
        while not stop.wait(10.0 if args.duration is None else min(10.0, args.duration)):
            log.info(
                "sent %d datagrams (%d bytes), %d send errors",
                fleet.datagrams_sent, fleet.bytes_sent, fleet.send_errors,
            )  # fmt: skip
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
    except KeyboardInterrupt:
        pass
    finally:
        fleet.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0
