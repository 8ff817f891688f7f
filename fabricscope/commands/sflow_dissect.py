"""`fabricscope sflow decode --dissect`: every sampled packet header, layer by layer (scapy), with
the fast path's verdict next to it — what an agent really sampled, and whether the collector's
own decoder reads it the same way (collector/sflow/dissect.py)."""

from __future__ import annotations

from typing import Any, TextIO

HEADER_NAMES = {1: "Ethernet", 11: "IPv4", 12: "IPv6"}


def dissect_files(paths: list[str], out: TextIO, progress: Any) -> tuple[int, int]:
    """Print each sampled header of each capture; returns (headers shown, decode errors)."""
    from collector.sflow.decoder import DecodeError, decode_datagram
    from collector.sflow.dissect import disagreements, show_layers
    from collector.sflow.headers import decode_header_layers
    from collector.sflow.pcap import read_datagrams
    from collector.sflow.records import DiscardSample, FlowSample, SampledHeader, tag_str

    shown = errors = 0
    for path in paths:
        for n, (_, source, payload) in enumerate(read_datagrams(path, progress.opened), 1):
            progress.step()
            try:
                dg = decode_datagram(payload)
            except DecodeError as exc:
                errors += 1
                out.write(f"{path} datagram {n} from {source}: not sFlow v5 ({exc})\n\n")
                continue
            for sample in dg.samples:
                if not isinstance(sample, FlowSample | DiscardSample):
                    continue
                for rec in sample.records:
                    if not isinstance(rec, SampledHeader):
                        continue
                    shown += 1
                    # Re-decoded from the raw bytes: the verdict is the fast path's own.
                    fresh = SampledHeader(
                        rec.header_protocol, rec.frame_length, rec.stripped, rec.header
                    )
                    decode_header_layers(fresh)
                    kind = HEADER_NAMES.get(rec.header_protocol, f"protocol {rec.header_protocol}")
                    where = f"source {sample.source_id_type}:{sample.source_id_index}"
                    rate = sample.sampling_rate if isinstance(sample, FlowSample) else None
                    out.write(
                        f"== {path} datagram {n}: agent {dg.agent} seq {dg.sequence}, "
                        f"{tag_str(sample.tag)} sample seq {sample.sequence} {where}"
                        f"{f', 1 in {rate}' if rate else ''}: {len(rec.header)} of "
                        f"{rec.frame_length} bytes sampled, {kind}\n"
                    )
                    out.write(show_layers(rec.header, rec.header_protocol) + "\n")
                    diff = disagreements(fresh)
                    if diff:
                        parts = ", ".join(
                            f"{k}: fast {a!r}, scapy {b!r}" for k, (a, b) in diff.items()
                        )
                        out.write(f"-- fast path and scapy DISAGREE on {parts}\n")
                    elif fresh.decode_error:
                        out.write(f"-- fast path stopped early: {fresh.decode_error}\n")
                    else:
                        out.write("-- fast path and scapy agree\n")
                    out.write("\n")
    return shown, errors
