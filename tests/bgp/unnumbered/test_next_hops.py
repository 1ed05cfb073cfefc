"""Next hops of an unnumbered session (services/bgp/fsm/peer.py `_routing`): IPv6 routes carry
our link-local address, after our global one when the interface has one (RFC 2545 §3); IPv4
routes carry the same IPv6 next hop (RFC 8950 §4), never an IPv4 one."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from metallb.bgp.v1 import bgp_pb2
from services.bgp.codec import IPV4_UNICAST, IPV6_UNICAST, Negotiated
from services.bgp.codec.attributes import MpReachNlri, NextHop
from services.bgp.codec.messages import Open
from services.bgp.codec.prefixes import parse_prefix
from services.bgp.convert import peer_conf_from_proto
from services.bgp.fsm import Peer
from services.bgp.fsm.peer import Connection
from services.bgp.fsm.rib import AdjRibOut, RouteAttrs

LL = IPv6Address("fe80::1")
GLOBAL = IPv6Address("2001:db8::1")
BOTH = frozenset({IPV4_UNICAST, IPV6_UNICAST})
CTX = Negotiated(four_octet_as=True, families=BOTH, extended_nexthop=frozenset({IPV4_UNICAST}))


def next_hops(global_address: IPv6Address | None) -> dict[str, tuple[object, ...]]:
    """Per family, the next hop(s) of the UPDATE our session would send."""
    cfg = peer_conf_from_proto(
        bgp_pb2.PeerConf(name="u", my_asn=64512, peer_asn=65000, interface="eth1")
    )
    peer = Peer(cfg, 0.0)
    peer.extra_next_hop4 = IPv4Address("192.0.2.1")  # an IPv4 address: never used here
    peer.extra_next_hop6 = global_address  # what the adapter finds on the interface
    conn = Connection(peer, 1, outgoing=True)
    conn.local, conn.ctx = LL, CTX
    conn.remote_open = Open.build(65000, 90, IPv4Address("10.0.0.9"), ())
    rib = AdjRibOut()
    rib.set_desired(
        {
            parse_prefix("198.51.100.7/32"): RouteAttrs(),
            parse_prefix("2001:db8:7::/128"): RouteAttrs(),
        }
    )
    out: dict[str, tuple[object, ...]] = {}
    for update in rib.updates(peer._routing(conn)):
        for attr in update.attributes:
            if isinstance(attr, MpReachNlri):
                out[f"mp-{attr.family.afi}"] = attr.next_hops
            if isinstance(attr, NextHop):
                out["next_hop"] = (attr.address,)
    return out


def test_link_local_alone_without_a_global_address() -> None:
    assert next_hops(None) == {"mp-1": (LL,), "mp-2": (LL,)}


def test_global_then_link_local_with_one() -> None:
    assert next_hops(GLOBAL) == {"mp-1": (GLOBAL, LL), "mp-2": (GLOBAL, LL)}
