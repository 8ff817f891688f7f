"""The endpoint anomaly kinds, in one place: the tracker writes them (`apic_endpoint_anomaly`
tag `kind`), notify forwards them, the API validates `kind=` against them, the analyzers read
them as evidence. Add a kind here and every consumer follows.
"""

from __future__ import annotations

RAPID = "rapid"  # an endpoint moving faster than the rate limit (EPT's "rapid")
OFFSUBNET = "offsubnet"  # an IP learned outside its BD's subnets
STALE = "stale"  # an endpoint left on a node after it moved elsewhere
ROGUE = "rogue"  # an endpoint the fabric would quarantine (too many moves)
DUPLICATE_IP = "duplicate_ip"  # one IP on two MACs at once
LOOP = "loop"  # many endpoints of one BD moving together; `addr` is then the BD

ANOMALY_KINDS: tuple[str, ...] = (RAPID, OFFSUBNET, STALE, ROGUE, DUPLICATE_IP, LOOP)
