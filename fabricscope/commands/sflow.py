"""`fabricscope sflow listen | decode | replay`."""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import signal
import sys
import time
from typing import Any

from fabricscope.errors import UserError, bind_error
from fabricscope.settings import Settings, load_settings

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    group = sub.add_parser("sflow", help="the sFlow collector").add_subparsers(
        dest="sflow_command", metavar="SFLOW_COMMAND", required=True
    )

    listen = group.add_parser("listen", help="receive sFlow over UDP and write to InfluxDB")
    listen.add_argument("--listen", help="host:port (FABRICSCOPE_SFLOW_LISTEN, 0.0.0.0:6343)")
    listen.add_argument(
        "--allow", help="agent/source CIDRs, comma-separated (FABRICSCOPE_SFLOW_ALLOW)"
    )
    listen.add_argument("--workers", type=int, help="processes sharing the port (SO_REUSEPORT)")
    listen.add_argument("--flow-interval", type=float, help="seconds per sflow_flows row")
    listen.add_argument("--top-n", type=int, help="flows kept per agent and interval")
    listen.add_argument("--stdout", action="store_true", help="print line protocol, no InfluxDB")
    _influx_args(listen)
    listen.set_defaults(handler=cmd_listen)

    decode = group.add_parser("decode", help="decode pcap/pcapng/.bin files offline")
    decode.add_argument("files", nargs="+", metavar="FILE")
    decode.add_argument("--format", choices=("json", "lp"), default="json")
    decode.add_argument("--flow-interval", type=float, default=10.0)
    decode.add_argument(
        "--dissect",
        action="store_true",
        help="show each sampled packet header layer by layer (scapy), with the fast path's verdict",
    )
    decode.set_defaults(handler=cmd_decode)

    replay = group.add_parser("replay", help="decode captures and write them to InfluxDB")
    replay.add_argument("files", nargs="*", metavar="FILE")
    replay.add_argument("--flow-interval", type=float, help="seconds per sflow_flows row")
    replay.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=0.0,
        metavar="SECONDS",
        help="wait until InfluxDB has taken every line, spooled ones included (at most SECONDS; "
        "without FILEs: deliver what an earlier replay left in the spool)",
    )
    _influx_args(replay)
    replay.set_defaults(handler=cmd_replay)


def _influx_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--influx-url", help="FABRICSCOPE_INFLUX_URL (default: the managed InfluxDB)")
    p.add_argument("--influx-token", help="FABRICSCOPE_INFLUX_TOKEN")
    p.add_argument("--influx-org", help="FABRICSCOPE_INFLUX_ORG")
    p.add_argument("--influx-bucket", help="FABRICSCOPE_INFLUX_BUCKET")
    p.add_argument("--spool-dir", help="FABRICSCOPE_SPOOL_DIR")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        influx_url=getattr(args, "influx_url", None),
        influx_token=getattr(args, "influx_token", None),
        influx_org=getattr(args, "influx_org", None),
        influx_bucket=getattr(args, "influx_bucket", None),
        spool_dir=getattr(args, "spool_dir", None),
        sflow_listen=getattr(args, "listen", None),
        sflow_allow=getattr(args, "allow", None),
        sflow_workers=getattr(args, "workers", None),
        sflow_flow_interval_s=getattr(args, "flow_interval", None),
        sflow_flow_top_n=getattr(args, "top_n", None),
    )


# ------------------------------------------------------------------- decode
def cmd_decode(args: argparse.Namespace) -> int:
    from collector.sflow.decoder import DecodeError, decode_datagram
    from collector.sflow.pcap import read_datagrams, read_many
    from collector.sflow.pipeline import SflowPipeline
    from collector.sflow.sflowtool_json import to_sflowtool
    from fabricscope.progress import FileProgress
    from influx.sink import ListSink

    out = sys.stdout
    errors = 0
    check_captures(args.files, "decode")
    progress = FileProgress("decode", args.files)
    if args.dissect:
        from fabricscope.commands.sflow_dissect import dissect_files

        shown, errors = dissect_files(args.files, out, progress)
        progress.close()
        if not shown:
            print("no sampled packet headers (flow record 0:1) in these captures", file=sys.stderr)
        return 1 if errors else 0
    if args.format == "lp":
        sink = ListSink()
        pipe = SflowPipeline(sink, flow_interval_s=args.flow_interval, stats_interval_s=1e9)
        last_ns = 0
        for ts_ns, source, payload in read_many(args.files, on_open=progress.opened):
            progress.step()
            pipe.tick(ts_ns)  # capture time drives the flow intervals
            pipe.handle(payload, source, ts_ns)
            last_ns = max(last_ns, ts_ns)
            pipe.push()
            _print_lines(sink)
        pipe.points.stats.lines = 0
        pipe._buf.extend(pipe.points.flush_flows(last_ns))
        pipe.push()
        _print_lines(sink)
        errors = pipe.points.stats.decode_errors
    else:
        for path in args.files:
            for _, source, payload in read_datagrams(path, progress.opened):
                progress.step()
                try:
                    obj = to_sflowtool(decode_datagram(payload))
                except DecodeError as exc:
                    errors += 1
                    print(f"{path}: datagram from {source}: {exc}", file=sys.stderr)
                    continue
                out.write(json.dumps(obj, separators=(",", ":")) + "\n")
    progress.close()
    if errors:
        print(f"{errors} datagram(s) could not be decoded", file=sys.stderr)
    return 1 if errors else 0


def _print_lines(sink: Any) -> None:
    if sink.lines:
        sys.stdout.write("\n".join(sink.lines) + "\n")
        sink.lines.clear()


# ------------------------------------------------------------------- replay
def cmd_replay(args: argparse.Namespace) -> int:
    from collector.sflow.pcap import read_many
    from collector.sflow.pipeline import SflowPipeline
    from fabricscope.progress import FileProgress
    from fabricscope.wiring import make_writer

    if not args.files and args.wait is None:
        raise UserError("sflow replay: give capture FILEs, or --wait to deliver the spool")
    check_captures(args.files, "replay")
    settings = _settings(args)
    writer = make_writer(settings, name="replay")
    pipe = SflowPipeline(
        writer,
        flow_interval_s=settings.sflow_flow_interval_s,
        stats_interval_s=1e9,
        instance="replay",
    )
    progress = FileProgress("replay", args.files)
    count = 0
    last_ns = 0
    try:
        if args.files:
            for ts_ns, source, payload in read_many(args.files, on_open=progress.opened):
                progress.step()
                pipe.tick(ts_ns)
                pipe.handle(payload, source, ts_ns)
                last_ns = max(last_ns, ts_ns)
                count += 1
            pipe.finish(last_ns or time.time_ns())
            progress.close()
        if args.wait is not None:
            wait_for_delivery(writer, args.wait)
    finally:
        writer.close()
    st = pipe.points.stats
    if args.files:
        print(
            f"replayed {count} datagrams: {st.samples} samples, {st.decode_errors} decode errors, "
            f"{st.lines} lines",
            file=sys.stderr,
        )
    return report_delivery(writer, settings)


def wait_for_delivery(writer: Any, limit_s: float) -> bool:
    """Block until the writer has delivered everything (spool included), at most `limit_s`
    seconds (0: no limit), saying what it waits for every 10 s. True when all is delivered."""
    deadline = time.monotonic() + limit_s if limit_s > 0 else float("inf")
    said = False
    while True:
        left = deadline - time.monotonic()
        if writer.flush(timeout=max(0.0, min(10.0, left))):
            return True
        if left <= 10.0:
            return False
        st = writer.stats()
        pending = int(st.get("spool_lines", 0)) + int(st.get("queue_depth", 0))
        why = f" ({st['last_error']})" if st.get("last_error") else ""
        print(
            f"waiting for InfluxDB at {writer.url} to take {pending} lines{why}; Ctrl-C stops "
            "(the lines stay in the spool)"
            if not said
            else f"still waiting: {pending} lines{why}",
            file=sys.stderr,
            flush=True,
        )
        said = True


def report_delivery(writer: Any, settings: Settings) -> int:
    """0 when InfluxDB took every line; else say where the lines are and how to deliver them."""
    st = writer.stats()
    spooled = int(st.get("spool_lines", 0))
    dropped = int(st.get("points_dropped", 0))
    if dropped:
        print(f"fabricscope: {dropped} lines were dropped (see the log)", file=sys.stderr)
    if not spooled:
        return 1 if dropped else 0
    where = writer.spool.directory if writer.spool is not None else "the spool"
    why = f" ({st['last_error']})" if st.get("last_error") else ""
    print(
        f"fabricscope: error: InfluxDB at {settings.influx_url} did not take the data{why}: "
        f"{spooled} lines wait in the spool {where}. Once InfluxDB is up, "
        "`fabricscope sflow replay --wait` delivers them (so does the next replay).",
        file=sys.stderr,
    )
    return 1


def check_captures(paths: list[str], verb: str) -> None:
    """Every capture readable, else one error naming the file (before any work starts)."""
    for path in paths:
        try:
            with open(path, "rb"):
                pass
        except FileNotFoundError:
            raise UserError(
                f"sflow {verb}: {path}: no such file (give a pcap, pcapng or .bin)"
            ) from None
        except IsADirectoryError:
            raise UserError(f"sflow {verb}: {path} is a directory: give capture files") from None
        except OSError as exc:
            raise UserError(f"sflow {verb}: cannot read {path}: {exc.strerror}") from None


# ------------------------------------------------------------------- listen
def cmd_listen(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from collector.sflow.listener import parse_listen
    from collector.sflow.pipeline import parse_allow_list

    try:
        host, port = parse_listen(settings.sflow_listen)
    except ValueError as exc:
        raise UserError(
            f"invalid listen address {settings.sflow_listen!r} (--listen / "
            f"FABRICSCOPE_SFLOW_LISTEN): {exc}; expected host:port, e.g. 0.0.0.0:6343"
        ) from None
    try:
        parse_allow_list(settings.sflow_allow)
    except ValueError as exc:
        raise UserError(f"invalid --allow / FABRICSCOPE_SFLOW_ALLOW: {exc}") from None
    workers = max(1, settings.sflow_workers)
    probe_udp(host, port, settings.sflow_rcvbuf_bytes, workers > 1)
    if workers == 1:
        return run_worker(settings, 0, False, args.stdout)
    return run_distributed(settings, workers, args.stdout)


def run_distributed(settings: Settings, workers: int, stdout: bool) -> int:
    """One reader process (this one) owns the socket and hands datagrams to ``workers`` decode
    processes by agent address (collector/sflow/distributor.py)."""
    from collector.sflow.distributor import Reader
    from collector.sflow.listener import parse_listen

    host, port = parse_listen(settings.sflow_listen)
    ctx = multiprocessing.get_context("spawn")
    pipes = [ctx.Pipe(duplex=False) for _ in range(workers)]
    ready = [ctx.Event() for _ in range(workers)]
    procs = [
        ctx.Process(
            target=run_worker, args=(settings, i, False, stdout, (rx, ready[i])), daemon=False
        )
        for i, (rx, _) in enumerate(pipes)
    ]
    for p in procs:
        p.start()
    for rx, _ in pipes:
        rx.close()  # the workers hold the reading ends
    for i, event in enumerate(ready):  # bind only once every worker can take datagrams
        if not event.wait(120):
            print(f"error: decode worker {i} did not start", file=sys.stderr)
            for p in procs:
                p.terminate()
            return 1
    reader = Reader(host, port, [tx for _, tx in pipes], rcvbuf=settings.sflow_rcvbuf_bytes)

    def stop(_signum: int, _frame: object) -> None:
        reader.stop()  # closing the pipes makes each worker flush, spool and exit

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    h, p_ = reader.address
    print(f"listening udp {h}:{p_} ({workers} decode workers)", file=sys.stderr, flush=True)
    reader.serve()
    for p in procs:
        p.join()
    return max((p.exitcode or 0) for p in procs)


def probe_udp(host: str, port: int, rcvbuf: int, reuse_port: bool) -> None:
    """Bind the listen address once, before any worker starts: a port in use or an address
    that is not on this machine is one clear error here, not a traceback per worker."""
    from collector.sflow.listener import open_socket

    try:
        open_socket(host, port, rcvbuf, reuse_port).close()
    except OSError as exc:
        raise bind_error(
            "udp", host, port, exc, "choose another with --listen or FABRICSCOPE_SFLOW_LISTEN"
        ) from None


def run_worker(
    settings: Settings, index: int, reuse_port: bool, stdout: bool, conn: Any = None
) -> int:
    """One collector process: its own UDP socket, or (``conn`` = (pipe, ready event))
    datagrams from the reader."""
    from collector.sflow.listener import (
        SflowListener,
        parse_listen,
        worker_instance,
    )
    from collector.sflow.pipeline import AllowList, SflowPipeline, parse_allow_list
    from fabricscope.wiring import StdoutSink, make_writer

    host, port = parse_listen(settings.sflow_listen)
    writer: Any = StdoutSink() if stdout else make_writer(settings, name=f"collector-w{index}")
    listener: Any = None

    def extra() -> dict[str, int | float]:
        values: dict[str, int | float] = {}
        if hasattr(writer, "stats"):
            values.update({k: v for k, v in writer.stats().items() if isinstance(v, int | float)})
        if listener is not None:
            if conn is None:
                rcv = listener.socket_drops()  # this socket's own drops, not the host's
            else:
                rcv = listener.kernel_drops  # the reader's socket (sent to worker 0 only)
            if rcv is not None:
                values["kernel_rcvbuf_errors"] = rcv
            values["received_bytes"] = listener.stats.bytes
        return values

    pipe = SflowPipeline(
        writer,
        allow=AllowList(parse_allow_list(settings.sflow_allow)),
        flow_interval_s=settings.sflow_flow_interval_s,
        flow_top_n=settings.sflow_flow_top_n,
        instance=worker_instance(index),
        worker_index=index,
        extra_stats=extra,
    )
    if conn is not None:
        from collector.sflow.distributor import PipeWorker

        rx, ready = conn
        listener = PipeWorker(pipe, rx)
    else:
        listener = SflowListener(
            pipe, host, port, rcvbuf=settings.sflow_rcvbuf_bytes, reuse_port=reuse_port
        )

    def stop(_signum: int, _frame: object) -> None:
        assert listener is not None
        listener.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if conn is None:
        h, p = listener.address
        print(f"listening udp {h}:{p}", file=sys.stderr, flush=True)
    else:
        ready.set()
    try:
        listener.serve()
    finally:
        writer.close()
    return 0
