"""BGP announcements of a node: MetalLB's `ShouldAnnounce` and advertisements (reference §4.2).

With externalTrafficPolicy Cluster every eligible node advertises (ECMP at the router); with
Local only the nodes hosting a serving endpoint do. Each (address, matching advertisement) gives
one route: the address masked to the advertisement's aggregation length, with its communities and
LOCAL_PREF, to its peers (all peers when the advertisement names none).

`peer_routes` then turns a node's routes into what each of its peers is sent (`PeerRoute`), with
LOCAL_PREF decided here once: only to an iBGP peer (RFC 4271 §5.1.5), the advertisement's or 100
(FRR's default; MetalLB's native speaker sends 0, quirk §8.4). `per_peer` merges the routes of
one prefix to one peer as MetalLB's speaker does (union of communities, first LOCAL_PREF), so the
BGP service receives one set of routes per peer and decides nothing of MetalLB's.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from metallb_rules.announce.inputs import ServiceView, node_excluded
from metallb_rules.bgp_peer import is_internal
from metallb_rules.communities import Community
from metallb_rules.config.model import BGPAdvertisement, Node, Peer

#: LOCAL_PREF sent to an iBGP peer when the advertisement sets none (FRR's default).
DEFAULT_LOCAL_PREF = 100


@dataclass(frozen=True)
class Route:
    prefix: str
    local_pref: int | None
    communities: tuple[Community, ...]
    # Peer names; empty means every peer of this node.
    peers: tuple[str, ...]


def _local_prefs_compatible(a: BGPAdvertisement, b: BGPAdvertisement) -> bool:
    if a.local_pref == b.local_pref:
        return True
    return bool(a.peers and b.peers and not set(a.peers) & set(b.peers)) or not a.nodes & b.nodes


def should_announce(
    svc: ServiceView,
    ads: Sequence[BGPAdvertisement],
    node: Node,
    ignore_exclude_lb: bool = False,
) -> str | None:
    """None to announce from `node`, else MetalLB's reason."""
    if not any(node.name in ad.nodes for ad in ads):
        return "notOwner"
    matching = _matching(svc, ads, node)
    if not matching:
        return "noMatchingAdvertisement"
    for i, ad in enumerate(matching):
        if not all(_local_prefs_compatible(ad, other) for other in matching[:i]):
            return "conflictingAdvertisements"
    if node.network_unavailable:
        return "nodeNetworkUnavailable"
    if node_excluded(node, ignore_exclude_lb):
        return "nodeLabeledExcludeBalancers"
    usable = [ep for ep in svc.endpoints if ep.addresses and ep.can_serve()]
    if svc.external_traffic_policy == "Local":
        if not any(ep.node_name == node.name for ep in usable):
            return "noLocalEndpoints"
    elif not usable:
        return "noEndpoints"
    return None


def _matching(
    svc: ServiceView, ads: Sequence[BGPAdvertisement], node: Node
) -> list[BGPAdvertisement]:
    return [
        ad
        for ad in ads
        if node.name in ad.nodes
        and (not ad.service_selectors or any(s.matches(svc.labels) for s in ad.service_selectors))
    ]


def routes(svc: ServiceView, ads: Sequence[BGPAdvertisement], node: Node) -> list[Route]:
    """The routes this node sends for the service (call after `should_announce` said yes)."""
    out: set[Route] = set()
    for ip_text in svc.ingress_ips:
        ip = ipaddress.ip_address(ip_text)
        for ad in _matching(svc, ads, node):
            length = ad.aggregation_length if ip.version == 4 else ad.aggregation_length_v6
            prefix = ipaddress.ip_network((ip, length), strict=False)
            out.add(Route(str(prefix), ad.local_pref, ad.communities, tuple(sorted(ad.peers))))
    return sorted(out, key=lambda r: (r.prefix, r.local_pref or 0, r.communities, r.peers))


@dataclass(frozen=True, order=True)
class PeerRoute:
    """One route to one peer: what the BGP service is asked to send."""

    peer: str
    prefix: str
    communities: tuple[Community, ...] = ()
    # Set for iBGP peers only.
    local_pref: int | None = None

    def sort_key(self) -> tuple[str, str, tuple[Community, ...], int]:
        return (self.peer, self.prefix, self.communities, self.local_pref or 0)


def local_pref_for(peer: Peer, local_pref: int | None) -> int | None:
    """The LOCAL_PREF `peer` is sent for an advertisement with `local_pref` (None: not sent)."""
    if not is_internal(peer.my_asn, peer.local_asn, peer.peer_asn, peer.dynamic_asn):
        return None
    return DEFAULT_LOCAL_PREF if local_pref is None else local_pref


def peer_routes(node_routes: Iterable[Route], peers: Sequence[Peer]) -> set[PeerRoute]:
    """The node's routes as each of its `peers` is sent them (an empty peer list: all)."""
    out: set[PeerRoute] = set()
    for route in node_routes:
        for peer in peers:
            if route.peers and peer.name not in route.peers:
                continue
            out.add(
                PeerRoute(
                    peer.name,
                    route.prefix,
                    route.communities,
                    local_pref_for(peer, route.local_pref),
                )
            )
    return out


def per_peer(routes: Iterable[PeerRoute]) -> dict[str, dict[str, PeerRoute]]:
    """Per peer, one route per prefix: routes of the same prefix merged (union of
    communities, the first LOCAL_PREF in sort order), as MetalLB's speaker merges them."""
    out: dict[str, dict[str, PeerRoute]] = {}
    for route in sorted(routes, key=PeerRoute.sort_key):
        held = out.setdefault(route.peer, {})
        have = held.get(route.prefix)
        if have is None:
            held[route.prefix] = route
        elif not set(route.communities) <= set(have.communities):
            held[route.prefix] = PeerRoute(
                route.peer,
                route.prefix,
                tuple(sorted(set(have.communities) | set(route.communities))),
                have.local_pref,
            )
    return out
