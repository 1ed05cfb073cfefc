"""BGP announcements of a node: MetalLB's `ShouldAnnounce` and advertisements (reference §4.2).

With externalTrafficPolicy Cluster every eligible node advertises (ECMP at the router); with
Local only the nodes hosting a serving endpoint do. Each (address, matching advertisement) gives
one route: the address masked to the advertisement's aggregation length, with its communities and
LOCAL_PREF, to its peers (all peers when the advertisement names none).
"""

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from metallb_rules.announce.inputs import ServiceView, node_excluded
from metallb_rules.communities import Community
from metallb_rules.config.model import BGPAdvertisement, Node


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
