"""`negotiate(local, remote)`: the `Negotiated` context implied by the two OPEN messages.

Each capability takes effect only if both speakers advertised it: 4-octet AS (RFC 6793 §3),
the multiprotocol families in common (RFC 4760 §8; none at all means IPv4 unicast only),
extended next hop per NLRI family (RFC 8950 §4), route refresh (RFC 2918 §3). The hold time is
the smaller of the two (RFC 4271 §4.2).
"""

from __future__ import annotations

from .capabilities import ExtendedNextHop, FourOctetAS, Multiprotocol, RouteRefreshCapability
from .capabilities.base import Capability
from .messages.open import Open
from .negotiated import AFI, IPV4_UNICAST, Family, Negotiated


def _families(open_: Open) -> frozenset[Family]:
    mp = [c.family for c in open_.capabilities if isinstance(c, Multiprotocol)]
    return frozenset(mp) if mp else frozenset({IPV4_UNICAST})  # RFC 4760 §8


def _has(open_: Open, kind: type[Capability]) -> bool:
    return any(isinstance(c, kind) for c in open_.capabilities)


def _extended_nexthop(open_: Open) -> frozenset[Family]:
    out: set[Family] = set()
    for cap in open_.capabilities:
        if isinstance(cap, ExtendedNextHop):
            out.update(e.nlri_family for e in cap.entries if e.nexthop_afi == AFI.IPV6)
    return frozenset(out)


def negotiate(local: Open, remote: Open) -> Negotiated:
    """The context for a session where we sent `local` and received `remote`."""
    return Negotiated(
        four_octet_as=_has(local, FourOctetAS) and _has(remote, FourOctetAS),
        families=_families(local) & _families(remote),
        extended_nexthop=_extended_nexthop(local) & _extended_nexthop(remote),
        hold_time=min(local.hold_time, remote.hold_time),
        route_refresh=_has(local, RouteRefreshCapability) and _has(remote, RouteRefreshCapability),
    )
