"""Flow records read as a plain sequence of fields, once: layout, field names, sflowtool keys.

The MPLS/802.11 extensions and the application-layer records hsflowd's mod_json and mod_http
emit (sflow_application / sflow_80211 / sflow_version_5): each is a row of steps, used by the
decoder (decoder._FLOW_FNS) and by the ``sflowtool -j`` renderer (sflowtool_json), so the two
cannot drift. Keys, order and formatting follow sflowtool's readExtendedMpls*/readExtendedWifi*/
readFlowSample_memcache/_http/_APP* (src/sflowtool.c): a string is printed only when not empty,
cut at its buffer size - 1; a MAC is 12 lowercase hex digits.

Step kinds: ``I`` u32, ``Q`` u64, ``sN`` XDR string (sflowtool buffer N), ``mac`` 6 bytes padded
to 8, ``appstatus`` u32 shown by name, ``urlkey`` a string sflowtool URL-encodes, ``=`` a
constant key/value sflowtool prints first (``flowSampleType``).
"""

from __future__ import annotations

from dataclasses import dataclass

# SFL_APP_STATUS_names in sflowtool's sflow.h, typo included; status 0 prints as SUCCESS
# (checked against a built sflowtool's -j output)
APP_STATUS = ("SUCCESS", "OTHER", "TIMEOUT", "INTERNAL_ERROR", "BAD_REQUEST", "FORBIDDEN",
              "TOO_LARGE", "NOT_IMPLEMENTED", "NOT_FOUND", "UNAVAILABLE",
              "UNATHORIZED")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    kind: str
    name: str  # record field name ("" for constants)
    key: str  # sflowtool key
    value: str = ""  # the constant of a "=" step

    @property
    def cap(self) -> int:
        return int(self.kind[1:]) if self.kind.startswith("s") else 0


def _row(*steps: tuple[str, ...]) -> tuple[Step, ...]:
    return tuple(Step(*s) for s in steps)


_HTTP_HEAD = (("=", "", "flowSampleType", "http"), ("I", "method", "http_method"),
              ("I", "protocol", "http_protocol"), ("s255", "uri", "http_uri"),
              ("s64", "host", "http_host"), ("s255", "referrer", "http_referrer"),
              ("s128", "useragent", "http_useragent"))  # fmt: skip
_HTTP_TAIL = (("s32", "authuser", "http_authuser"), ("s64", "mimetype", "http_mimetype"))
_HTTP_END = (("Q", "resp_bytes", "http_bytes"), ("I", "duration_us", "http_duration_uS"),
             ("I", "status", "http_status"))  # fmt: skip

FLOW_ROWS: dict[int, tuple[Step, ...]] = {
    1008: _row(("s100", "tunnel_lsp_name", "mpls_tunnel_lsp_name"),
               ("I", "tunnel_id", "mpls_tunnel_id"), ("I", "tunnel_cos", "mpls_tunnel_cos")),
    1009: _row(("s100", "vc_instance_name", "mpls_vc_name"),
               ("I", "vll_vc_id", "mpls_vll_vc_id"), ("I", "vc_label_cos", "mpls_vc_cos")),
    1010: _row(("s100", "mpls_ftn_descr", "mpls_ftn_descr"),
               ("I", "mpls_ftn_mask", "mpls_ftn_mask")),
    1011: _row(("I", "mpls_fec_addr_prefix_length", "mpls_fec_addr_prefix_len")),
    1014: _row(("s256", "ssid", "rx_SSID"), ("mac", "bssid", "rx_BSSID"),
               ("I", "version", "rx_version"), ("I", "channel", "rx_channel"),
               ("Q", "speed", "rx_speed"), ("I", "rsni", "rx_rsni"), ("I", "rcpi", "rx_rcpi"),
               ("I", "packet_duration_us", "rx_packet_uS")),
    1015: _row(("s256", "ssid", "tx_SSID"), ("mac", "bssid", "tx_BSSID"),
               ("I", "version", "tx_version"), ("I", "transmissions", "tx_transmissions"),
               ("I", "packet_duration_us", "tx_packet_uS"),
               ("I", "retrans_duration_us", "tx_retrans_uS"), ("I", "channel", "tx_channel"),
               ("Q", "speed", "tx_speed"), ("I", "power_mw", "tx_power_mW")),
    2200: _row(("=", "", "flowSampleType", "memcache"), ("I", "protocol", "memcache_op_protocol"),
               ("I", "cmd", "memcache_op_cmd"), ("urlkey", "key", "memcache_op_key"),
               ("I", "nkeys", "memcache_op_nkeys"), ("I", "value_bytes", "memcache_op_value_bytes"),
               ("I", "duration_us", "memcache_op_duration_uS"),
               ("I", "status", "memcache_op_status")),
    2201: _row(*_HTTP_HEAD, *_HTTP_TAIL, *_HTTP_END),
    2206: _row(*_HTTP_HEAD, ("s64", "xff", "http_xff"), *_HTTP_TAIL,
               ("Q", "req_bytes", "http_request_bytes"), *_HTTP_END),
    2202: _row(("=", "", "flowSampleType", "applicationOperation"),
               ("s32", "application", "application"), ("s32", "operation", "operation"),
               ("s255", "attributes", "attributes"), ("s32", "status_descr", "status_descr"),
               ("Q", "req_bytes", "request_bytes"), ("Q", "resp_bytes", "response_bytes"),
               ("I", "duration_us", "duration_uS"), ("appstatus", "status", "status")),
    2203: _row(("s32", "application", "server_context_application"),
               ("s32", "operation", "server_context_operation"),
               ("s255", "attributes", "server_context_attributes")),
    2204: _row(("s64", "actor", "actor_initiator")),
    2205: _row(("s64", "actor", "actor_target")),
}  # fmt: skip


def url_encode(text: str) -> str:
    """sflowtool's URLEncode: letters and digits kept, whitespace → '+', the rest '%' + 2 hex.

    sflowtool reads the two hex digits from its lookup table as one native-endian uint16 and
    prints the high byte first, so on the little-endian hosts it runs on the digits come out
    swapped: ':' (0x3A) prints as %A3. We print what sflowtool prints (seen on a built
    sflowtool -j). Bytes >= 0x80 index its table with a negative char (undefined there);
    they get the same swapped form here.
    """
    out = []
    for ch in text.encode("utf-8", "replace"):
        c = chr(ch)
        if c.isascii() and c.isalnum():
            out.append(c)
        elif c in " \t\n\v\f\r":
            out.append("+")
        else:
            out.append(f"%{ch & 15:X}{ch >> 4:X}")
    return "".join(out)
